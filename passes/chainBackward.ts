import type { Var } from "../ir/graph.ts";
import type { Prim } from "../ir/prims.ts";
import { LOWRANK_BWD, type ChainAct } from "../ir/fusedKinds.ts";
import { build, mmFlags, sameShape, type GraphIndex, type Match } from "./chainIndex.ts";

const DACT_OF: Partial<Record<Prim, ChainAct>> = { dsilu: "silu", dgelu: "gelu", drelu: "relu" };

/** How matchBackward treats the links of a longer chain (see fuseChains). */
export interface BackwardLinks {
  /**
   * First pass: leave this chain to its input-side neighbour when its dX product is itself the start
   * of a chain that matches (the backward of the forward link that owns the shared matmul), and call
   * `defer` with the anchor, which waits for the second pass.
   */
  readonly defer?: (anchor: number) => void;
  /**
   * Second pass: with its dX and dA products taken by the input-side link, a chain whose dZ is `linked`
   * (that link's dY) still fuses as a tail: dZ = (dY·Bᵀ) ⊙ act'(z) and dB = hᵀ·dY.
   */
  readonly linked?: (v: Var) => boolean;
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

/**
 * dZ = (dY·Bᵀ) ⊙ act'(z) and the products that read dZ (and dY), anchored at dH = matmul[transB](dY, B).
 * Null where the anchor is no chain, or (with `links.defer`) where it leaves itself to its input side.
 */
export function matchBackward(ix: GraphIndex, j: number, maxRank: number, links: BackwardLinks): Match | null {
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
  // dX = dZ·Aᵀ is the next chain's dH where the forward chain goes on toward the input: that chain first
  if (links.defer && dx !== undefined && matchBackward(ix, dx, maxRank, { defer: () => {} }) !== null) {
    links.defer(j);
    return null;
  }
  const da = transAProductsOf(ix, dZ)[0];
  const tail = dx === undefined && da === undefined && act !== "identity" && (links.linked?.(dZ) ?? false);
  if (!tail && dx === undefined && (act === "identity" || da === undefined)) return null; // not a chain: a lone product
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
