import { Graph, Var, type Eqn, type FusedEqn } from "../ir/graph.ts";
import type { GraphIndex, Match } from "./chainIndex.ts";
import { ATTENTION, ATTENTION_BWD, type AttentionParams, type ChainCaps } from "../ir/fusedKinds.ts";

/**
 * Attention fusion, part of the chain pass: causal attention `O = softmax_causal(q·kᵀ)·v` (the graph
 * models/transformer.ts traces, the 1/√dh scale and RoPE already applied to q and k) becomes one
 * `attention` node, and its backward (the matmul and softmax vjps: dP = dO·vᵀ, dS = P ⊙ (dP −
 * rowsum(dP ⊙ P)), dQ = dS·k, dK = dSᵀ·q, dV = Pᵀ·dO) one `attentionBackward` node.
 *
 * The backward node recomputes P from q and k (flash-style) instead of reading the forward's: its body
 * starts with its own copy of `q·kᵀ → softmax` unless those equations only serve it (under CoLA-M they are
 * already recomputed in backward). The backward already reads q, k and v, so the [.., t, t] probabilities
 * are no longer saved between the passes. Measured on the native kernels at t = 256, dh = 64, recomputing
 * costs ~8% more attention time than saving P (~1% of a training step) and saves bh·t² floats a layer
 * (backends/native/src/attention.cc has the figures).
 */
export function fuseAttention(ix: GraphIndex, caps: ChainCaps, take: (m: Match | null) => void): void {
  let next = Math.max(0, ...ix.g.inputs.map((v) => v.id), ...ix.g.eqns.map((e) => e.out.id)) + 1;
  const fresh = (like: Var) => new Var(next++, like.abs);
  const read = new Set<Var>(); // inputs of the backward nodes placed: values the forward nodes must still output
  if (caps.kinds.has(ATTENTION_BWD))
    ix.g.eqns.forEach((_, i) => {
      const m = matchBackward(ix, i, fresh);
      m?.node.inputs.forEach((v) => read.add(v));
      take(m);
    });
  if (caps.kinds.has(ATTENTION)) ix.g.eqns.forEach((_, i) => take(matchForward(ix, i, read)));
}

const flags = (e: Eqn) => e.params as { transA?: boolean; transB?: boolean };
const isMatmul = (e: Eqn | undefined, transA: boolean, transB: boolean): e is Eqn =>
  e?.prim === "matmul" && !!flags(e).transA === transA && !!flags(e).transB === transB;
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((s, i) => s === b[i]);

/** S = q·kᵀ and P = softmax_causal(S), with q, k, v (and S, P) of one batch shape [..., t, ·]. */
interface Scores {
  readonly mm: { e: Eqn; i: number };
  readonly sm: { e: Eqn; i: number };
  readonly q: Var;
  readonly k: Var;
}

/** The causal scores behind P (not yet fused), or null. */
function scoresOf(ix: GraphIndex, P: Var): Scores | null {
  const sm = ix.defBy(P, "softmax");
  if (!sm || !(sm.e.params as { causal?: boolean }).causal) return null;
  const mm = ix.defBy(sm.e.inputs[0]!, "matmul");
  if (!mm || !isMatmul(mm.e, false, true) || !ix.onlyUsedBy(mm.e.out, sm.i)) return null;
  const [q, k] = mm.e.inputs as [Var, Var];
  const [qs, ks] = [q.shape, k.shape];
  const t = qs.at(-2);
  if (qs.length < 2 || q.abs.dtype !== "float32" || !sameShape(qs, ks) || t !== ks.at(-2)) return null;
  return { mm, sm, q, k };
}

/** v (or dO) fits q: the same leading shape and rows, any width. */
const fitsRows = (q: Var, v: Var) => v.abs.dtype === "float32" && sameShape(q.shape.slice(0, -1), v.shape.slice(0, -1));

/** O = P·v with P the causal softmax of q·kᵀ, anchored at the second product (index j). */
function matchForward(ix: GraphIndex, j: number, read: ReadonlySet<Var>): Match | null {
  const e = ix.g.eqns[j]!;
  if (ix.absorbed.has(j) || !isMatmul(e, false, false)) return null;
  const [P, v] = e.inputs as [Var, Var];
  const s = scoresOf(ix, P);
  if (!s || !fitsRows(s.q, v) || P === v) return null;
  const absorbed = [s.mm.i, s.sm.i, j];
  const elsewhere = read.has(P) || ix.outputs.has(P) || ix.usersOf(P).some((u) => u !== j && !ix.absorbed.has(u));
  const outputs: [string, Var][] = [["O", e.out], ...(elsewhere ? [["P", P] as [string, Var]] : [])];
  return node(
    ix,
    ATTENTION,
    absorbed,
    absorbed.map((i) => ix.g.eqns[i]!),
    [
      ["q", s.q],
      ["k", s.k],
      ["v", v],
    ],
    outputs,
  );
}

/** The one free user of `v` with primitive `prim` (and `v` at input `at`), if it is v's only user. */
function soleUser(ix: GraphIndex, v: Var, prim: string, at = 0): { e: Eqn; i: number } | null {
  const us = ix.usersOf(v);
  if (us.length !== 1 || ix.outputs.has(v) || ix.absorbed.has(us[0]!)) return null;
  const e = ix.g.eqns[us[0]!]!;
  return e.prim === prim && e.inputs[at] === v ? { e, i: us[0]! } : null;
}

/** The other operand of a binary equation that reads `v`. */
const other = (e: Eqn, v: Var) => (e.inputs[0] === v ? e.inputs[1]! : e.inputs[0]!);

/**
 * The softmax vjp and the products around it, anchored at P's softmax (index i): dP = matmul[transB](dO, v),
 * mul(dP, P), sum over the last axis, reshape to [.., t, 1], sub(dP, ·), dS = mul(P, ·), then the products
 * dQ = dS·k, dK = matmul[transA](dS, q) and dV = matmul[transA](P, dO) that the graph has.
 */
function matchBackward(ix: GraphIndex, i: number, fresh: (like: Var) => Var): Match | null {
  const sm = ix.g.eqns[i]!;
  if (ix.absorbed.has(i) || sm.prim !== "softmax") return null;
  const P = sm.out;
  const s = scoresOf(ix, P);
  if (!s) return null;
  const free = (u: number) => !ix.absorbed.has(u);
  const eq = (u: number) => ix.g.eqns[u]!;
  const last = P.shape.length - 1;

  for (const u of ix.usersOf(P).filter(free)) {
    const mul1 = eq(u);
    if (mul1.prim !== "mul") continue;
    const dP = other(mul1, P);
    const dPdef = ix.defBy(dP, "matmul");
    if (!dPdef || !isMatmul(dPdef.e, false, true) || dP === P) continue;
    const [dO, v] = dPdef.e.inputs as [Var, Var];
    if (!fitsRows(s.q, v) || !fitsRows(s.q, dO) || dO.shape.at(-1) !== v.shape.at(-1)) continue;
    const sum = soleUser(ix, mul1.out, "sum");
    const axes = (sum?.e.params as { axes?: readonly number[] } | undefined)?.axes ?? [];
    if (!sum || axes.length !== 1 || (axes[0] !== -1 && axes[0] !== last)) continue;
    const rs = soleUser(ix, sum.e.out, "reshape");
    if (!rs || !sameShape(rs.e.out.shape, [...P.shape.slice(0, -1), 1])) continue;
    const sub = soleUser(ix, rs.e.out, "sub", 1);
    if (!sub || sub.e.inputs[0] !== dP) continue;
    const dsU = ix.usersOf(sub.e.out);
    const dSmul =
      dsU.length === 1 && !ix.outputs.has(sub.e.out) && free(dsU[0]!) ? { e: eq(dsU[0]!), i: dsU[0]! } : null;
    if (!dSmul || dSmul.e.prim !== "mul" || other(dSmul.e, sub.e.out) !== P) continue;
    const dPusers = new Set(ix.usersOf(dP));
    if (ix.outputs.has(dP) || dPusers.size !== 2 || !dPusers.has(u) || !dPusers.has(sub.i)) continue;

    const dS = dSmul.e.out;
    const product = (x: Var, right: Var, transA: boolean) =>
      ix
        .usersOf(x)
        .find((w) => free(w) && isMatmul(eq(w), transA, false) && eq(w).inputs[0] === x && eq(w).inputs[1] === right);
    const dQ = product(dS, s.k, false),
      dK = product(dS, s.q, true),
      dV = product(P, dO, true);
    const dSusers = ix.usersOf(dS);
    if (ix.outputs.has(dS) || dSusers.some((w) => w !== dQ && w !== dK) || (dQ === undefined && dK === undefined))
      continue;

    const chain = [
      dPdef.i,
      u,
      sum.i,
      rs.i,
      sub.i,
      dSmul.i,
      ...[dQ, dK, dV].filter((w): w is number => w !== undefined),
    ].sort((a, b) => a - b);
    const mine = new Set(chain);
    const outputs: [string, Var][] = [];
    if (dQ !== undefined) outputs.push(["dQ", eq(dQ).out]);
    if (dK !== undefined) outputs.push(["dK", eq(dK).out]);
    if (dV !== undefined) outputs.push(["dV", eq(dV).out]);
    const inputs: [string, Var][] = [
      ["q", s.q],
      ["k", s.k],
      ["v", v],
      ["dO", dO],
    ];
    // P only serves this chain (recomputed for it by remat): take its equations as they are
    if (!ix.outputs.has(P) && ix.usersOf(P).every((w) => mine.has(w))) {
      const absorbed = [s.mm.i, s.sm.i, ...chain].sort((x, y) => x - y);
      return node(ix, ATTENTION_BWD, absorbed, absorbed.map(eq), inputs, outputs);
    }
    // otherwise recompute it: a private copy of q·kᵀ → softmax, which the chain reads instead of P
    const S2 = fresh(s.mm.e.out),
      P2 = fresh(P);
    const copies: Eqn[] = [
      { ...s.mm.e, out: S2, meta: { ...s.mm.e.meta, phase: "backward" } },
      { ...s.sm.e, inputs: [S2], out: P2, meta: { ...s.sm.e.meta, phase: "backward" } },
    ];
    const body = [...copies, ...chain.map((w) => ({ ...eq(w), inputs: eq(w).inputs.map((x) => (x === P ? P2 : x)) }))];
    return node(ix, ATTENTION_BWD, chain, body, inputs, outputs);
  }
  return null;
}

/**
 * The fused node computing `body` (the graph's equations at `absorbed`, possibly rewired), placed at
 * max(absorbed); null when that cannot be one launch: an output read before that point, or an input only
 * defined after it.
 */
function node(
  ix: GraphIndex,
  kind: typeof ATTENTION | typeof ATTENTION_BWD,
  absorbed: number[],
  body: Eqn[],
  inputs: [string, Var][],
  outputs: [string, Var][],
): Match | null {
  const at = Math.max(...absorbed);
  const inside = new Set(absorbed);
  if (absorbed.some((i) => ix.absorbed.has(i))) return null;
  for (const [, v] of outputs) if (ix.usersOf(v).some((u) => !inside.has(u) && u <= at)) return null;
  for (const [, v] of inputs) if ((ix.def.get(v) ?? -1) >= at) return null;
  const g = new Graph(
    inputs.map(([, v]) => v),
    body,
    outputs.map(([, v]) => v),
  );
  const params: AttentionParams = {
    kind,
    causal: true,
    inputNames: inputs.map(([n]) => n),
    outputNames: outputs.map(([n]) => n),
  };
  const last = ix.g.eqns[at]!;
  const fused: FusedEqn = {
    prim: "fused",
    params,
    inputs: g.inputs,
    outs: g.outputs,
    out: g.outputs[0]!,
    body: g,
    meta: { phase: last.meta.phase, name: last.meta.name },
  };
  return { node: fused, absorbed };
}
