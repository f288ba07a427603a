import { Graph, type Eqn, type FusedEqn, type Node, type Var } from "../ir/graph.ts";
import type { Prim } from "../ir/prims.ts";
import { fuseAttention } from "./attentionChain.ts";
import {
  LOWRANK,
  LOWRANK_BWD,
  type ChainAct,
  type ChainCaps,
  type LowrankBwdParams,
  type LowrankParams,
} from "../ir/fusedKinds.ts";

/**
 * Chain fusion: a pure pass from a graph of primitives to a graph where every low-rank chain
 * `matmul → act → matmul` (forward) and its backward `(dY·Bᵀ) ⊙ act'(z)` with the products that read
 * it (dX = dZ·Aᵀ, dA = xᵀ·dZ, and dB = hᵀ·dY from the same dY) is one fused node. It runs on the joint
 * forward+backward graph after remat, so it fuses training exactly as it fuses inference. A value the
 * rest of the graph still reads (z or h saved for backward, dZ) becomes an extra output of the node.
 */
export function fuseChains(g: Graph, caps: ChainCaps): Graph<Node> {
  const ix = new GraphIndex(g);
  const placed = new Map<number, FusedEqn>();
  const take = (m: Match | null) => {
    if (!m) return;
    m.absorbed.forEach((i) => ix.absorbed.add(i));
    placed.set(Math.max(...m.absorbed), m.node);
  };
  // attention first: its backward node recomputes P, so the forward node need not save it
  fuseAttention(ix, caps, take);
  // backward chains first: the forward matcher would otherwise never see a dZ product anyway
  if (caps.kinds.has(LOWRANK_BWD)) g.eqns.forEach((_, i) => take(matchBackward(ix, i, caps.maxRank)));
  if (caps.kinds.has(LOWRANK)) g.eqns.forEach((_, i) => take(matchForward(ix, i, caps.maxRank)));
  const eqns: Node[] = [];
  g.eqns.forEach((e, i) => {
    const f = placed.get(i);
    if (f) eqns.push(f);
    else if (!ix.absorbed.has(i)) eqns.push(e);
  });
  return new Graph<Node>(g.inputs, eqns, g.outputs);
}

/** Who defines and who reads each variable, and which equations a fused node has taken. */
export class GraphIndex {
  readonly def = new Map<Var, number>();
  readonly users = new Map<Var, number[]>();
  readonly outputs: ReadonlySet<Var>;
  readonly absorbed = new Set<number>();
  constructor(readonly g: Graph) {
    g.eqns.forEach((e, i) => {
      this.def.set(e.out, i);
      for (const v of new Set(e.inputs)) this.users.set(v, [...(this.users.get(v) ?? []), i]);
    });
    this.outputs = new Set(g.outputs);
  }
  /** The free (not yet fused) equation defining v with primitive `prim`, if that is how v is made. */
  defBy(v: Var, ...prims: Prim[]): { e: Eqn; i: number } | null {
    const i = this.def.get(v);
    if (i === undefined || this.absorbed.has(i)) return null;
    const e = this.g.eqns[i]!;
    return prims.includes(e.prim) ? { e, i } : null;
  }
  usersOf(v: Var): number[] {
    return this.users.get(v) ?? [];
  }
  /** Read by `only` and nothing else (not a graph output either). */
  onlyUsedBy(v: Var, only: number): boolean {
    const u = this.usersOf(v);
    return !this.outputs.has(v) && u.length === 1 && u[0] === only;
  }
  /** Read anywhere outside the equations `inside`. */
  usedOutside(v: Var, inside: ReadonlySet<number>): boolean {
    return this.outputs.has(v) || this.usersOf(v).some((u) => !inside.has(u));
  }
}

export interface Match {
  readonly node: FusedEqn;
  readonly absorbed: readonly number[];
}

const ACT_OF: Partial<Record<Prim, ChainAct>> = { silu: "silu", gelu: "gelu", relu: "relu" };
const DACT_OF: Partial<Record<Prim, ChainAct>> = { dsilu: "silu", dgelu: "gelu", drelu: "relu" };
const mmFlags = (e: Eqn) => e.params as { transA?: boolean; transB?: boolean };
const plainMatmul = (e: Eqn) => e.prim === "matmul" && !mmFlags(e).transA && !mmFlags(e).transB;
const sameShape = (a: Var, b: Var) =>
  a.abs.dtype === b.abs.dtype && a.shape.length === b.shape.length && a.shape.every((s, i) => s === b.shape[i]);

/**
 * Builds the node, or null when the chain cannot be one launch at position max(absorbed): an output
 * read before that point, or an input only defined after it.
 */
function build(
  ix: GraphIndex,
  absorbed: number[],
  inputs: [string, Var][],
  outputs: [string, Var][],
  params: Record<string, unknown>,
): Match | null {
  const at = Math.max(...absorbed);
  const inside = new Set(absorbed);
  if (absorbed.some((i) => ix.absorbed.has(i))) return null;
  for (const [, v] of outputs) if (ix.usersOf(v).some((u) => !inside.has(u) && u <= at)) return null;
  for (const [, v] of inputs) if ((ix.def.get(v) ?? -1) >= at) return null;
  const body = new Graph(
    inputs.map(([, v]) => v),
    [...inside].sort((a, b) => a - b).map((i) => ix.g.eqns[i]!),
    outputs.map(([, v]) => v),
  );
  const last = ix.g.eqns[at]!;
  const node: FusedEqn = {
    prim: "fused",
    params: { ...params, inputNames: inputs.map(([n]) => n), outputNames: outputs.map(([n]) => n) } as unknown as
      LowrankParams | LowrankBwdParams,
    inputs: body.inputs,
    outs: body.outputs,
    out: body.outputs[0]!,
    body,
    meta: { phase: last.meta.phase, name: last.meta.name },
  };
  return { node, absorbed };
}

/** y = act(x·A)·B [⊕ e], anchored at the second matmul (index j). */
function matchForward(ix: GraphIndex, j: number, maxRank: number): Match | null {
  const m2 = ix.g.eqns[j]!;
  if (ix.absorbed.has(j) || !plainMatmul(m2) || m2.inputs[1]!.abs.dims.length !== 2) return null;
  const [h, B] = m2.inputs as [Var, Var];
  const u = ix.defBy(h, "silu", "gelu", "relu");
  const z = u ? u.e.inputs[0]! : h;
  const m1 = ix.defBy(z, "matmul");
  if (!m1 || !plainMatmul(m1.e) || m1.e.inputs[1]!.abs.dims.length !== 2) return null;
  const [x, A] = m1.e.inputs as [Var, Var];
  const r = A.shape[1]!;
  if (r > maxRank || x.shape.length !== h.shape.length) return null;

  const absorbed = [m1.i, ...(u ? [u.i] : []), j];
  let y = m2.out;
  let epilogue: LowrankParams["epilogue"] = "none";
  const inputs: [string, Var][] = [
    ["x", x],
    ["A", A],
    ["B", B],
  ];
  const users = ix.usersOf(y);
  if (users.length === 1 && !ix.outputs.has(y)) {
    const k = ix.g.eqns[users[0]!]!;
    const other = k.inputs[0] === y ? k.inputs[1] : k.inputs[0];
    if (
      (k.prim === "add" || k.prim === "mul") &&
      other &&
      other !== y &&
      sameShape(other, y) &&
      !ix.absorbed.has(users[0]!)
    ) {
      absorbed.push(users[0]!);
      inputs.push(["e", other]);
      epilogue = k.prim;
      y = k.out;
    }
  }
  const inside = new Set(absorbed);
  const outputs: [string, Var][] = [["y", y]];
  if (u && ix.usedOutside(z, inside)) outputs.push(["z", z]);
  if (ix.usedOutside(h, inside)) outputs.push(["h", h]);
  return build(ix, absorbed, inputs, outputs, { kind: LOWRANK, act: u ? ACT_OF[u.e.prim]! : "identity", r, epilogue });
}

/** A product `matmul[transA](P, Q)` whose right operand is v itself or a reshape of v used only there. */
function transAProductsOf(ix: GraphIndex, v: Var): { mm: number; reshape?: number; left: Var }[] {
  const found: { mm: number; reshape?: number; left: Var }[] = [];
  const direct = (i: number, via?: number) => {
    const e = ix.g.eqns[i]!;
    const f = mmFlags(e);
    if (
      e.prim === "matmul" &&
      f.transA &&
      !f.transB &&
      e.inputs[0]!.abs.dims.length === 2 &&
      e.inputs[1]!.abs.dims.length === 2 &&
      !ix.absorbed.has(i)
    ) {
      found.push({ mm: i, reshape: via, left: e.inputs[0]! });
    }
  };
  for (const i of ix.usersOf(v)) {
    const e = ix.g.eqns[i]!;
    if (e.inputs[1] === v && e.inputs[0] !== v) direct(i);
    if (e.prim === "reshape" && e.out.shape.length === 2 && !ix.absorbed.has(i)) {
      const us = ix.usersOf(e.out);
      if (
        us.length === 1 &&
        !ix.outputs.has(e.out) &&
        ix.g.eqns[us[0]!]!.inputs[1] === e.out &&
        ix.g.eqns[us[0]!]!.inputs[0] !== e.out
      )
        direct(us[0]!, i);
    }
  }
  return found;
}

/** dZ = (dY·Bᵀ) ⊙ act'(z) and the products that read dZ (and dY), anchored at dH = matmul[transB](dY, B). */
function matchBackward(ix: GraphIndex, j: number, maxRank: number): Match | null {
  const mh = ix.g.eqns[j]!;
  const f = mmFlags(mh);
  if (ix.absorbed.has(j) || mh.prim !== "matmul" || f.transA || !f.transB || mh.inputs[1]!.abs.dims.length !== 2)
    return null;
  const [dY, B] = mh.inputs as [Var, Var];
  const r = B.shape[0]!;
  if (r > maxRank || dY.shape.length < 2) return null;
  const dH = mh.out;

  // the activation's derivative: dZ = mul(dH, dact(z)) with dH and dact(z) read by that mul alone
  let act: ChainAct = "identity";
  let dZ = dH;
  let z: Var | null = null;
  const absorbed = [j];
  const hu = ix.usersOf(dH);
  const mul = hu.length === 1 && !ix.outputs.has(dH) ? { e: ix.g.eqns[hu[0]!]!, i: hu[0]! } : null;
  if (mul && mul.e.prim === "mul" && !ix.absorbed.has(mul.i)) {
    const D = mul.e.inputs[0] === dH ? mul.e.inputs[1]! : mul.e.inputs[0]!;
    const d = ix.defBy(D, "dsilu", "dgelu", "drelu");
    if (d && D !== dH && sameShape(D, dH) && ix.onlyUsedBy(D, mul.i)) {
      act = DACT_OF[d.e.prim]!;
      z = d.e.inputs[0]!;
      dZ = mul.e.out;
      absorbed.push(d.i, mul.i);
    }
  }

  const dx = ix.usersOf(dZ).find((i) => {
    const e = ix.g.eqns[i]!;
    const g = mmFlags(e);
    return (
      e.prim === "matmul" &&
      !g.transA &&
      g.transB &&
      e.inputs[0] === dZ &&
      e.inputs[1] !== dZ &&
      e.inputs[1]!.abs.dims.length === 2 &&
      !ix.absorbed.has(i)
    );
  });
  const da = transAProductsOf(ix, dZ)[0];
  if (dx === undefined && (act === "identity" || da === undefined)) return null; // not a chain: a lone product
  const db = transAProductsOf(ix, dY).find((p) => p.left.shape[1] === r);

  const attempt = (withDB: boolean): Match | null => {
    const abs = [...absorbed];
    const inputs: [string, Var][] = [
      ["dY", dY],
      ["B", B],
    ];
    const outputs: [string, Var][] = [];
    if (z) inputs.push(["z", z]);
    if (dx !== undefined) {
      const e = ix.g.eqns[dx]!;
      abs.push(dx);
      inputs.push(["A", e.inputs[1]!]);
      let out = e.out;
      const us = ix.usersOf(out);
      const acc = us.length === 1 && !ix.outputs.has(out) ? ix.g.eqns[us[0]!]! : null;
      const other = acc && (acc.inputs[0] === out ? acc.inputs[1] : acc.inputs[0]);
      if (acc && acc.prim === "add" && other && other !== out && sameShape(other, out) && !ix.absorbed.has(us[0]!)) {
        abs.push(us[0]!);
        inputs.push(["acc", other]);
        out = acc.out;
      }
      outputs.push(["dX", out]);
    }
    if (da) {
      abs.push(da.mm, ...(da.reshape !== undefined ? [da.reshape] : []));
      inputs.push(["x", da.left]);
      outputs.push(["dA", ix.g.eqns[da.mm]!.out]);
    }
    if (withDB && db) {
      abs.push(db.mm, ...(db.reshape !== undefined ? [db.reshape] : []));
      inputs.push(["h", db.left]);
      outputs.push(["dB", ix.g.eqns[db.mm]!.out]);
    }
    if (ix.usedOutside(dZ, new Set(abs))) outputs.push(["dZ", dZ]);
    return build(ix, abs, inputs, outputs, { kind: LOWRANK_BWD, act, r });
  };
  return attempt(true) ?? attempt(false);
}
