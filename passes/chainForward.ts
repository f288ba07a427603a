import type { Var } from "../ir/graph.ts";
import type { Prim } from "../ir/prims.ts";
import { LOWRANK, LOWRANK_TAIL, type ChainAct, type LowrankParams } from "../ir/fusedKinds.ts";
import { build, plainMatmul, sameShape, type GraphIndex, type Match } from "./chainIndex.ts";

/** The activations a chain may have in its middle, by primitive. */
const ACT_OF: Partial<Record<Prim, ChainAct>> = { silu: "silu", gelu: "gelu", relu: "relu" };
const ACT_PRIMS: Prim[] = ["silu", "gelu", "relu"];

/** y = act(x·A)·B [⊕ e], anchored at the second matmul (index j). */
export function matchForward(ix: GraphIndex, j: number, maxRank: number): Match | null {
  const m2 = ix.g.eqns[j]!;
  if (ix.absorbed.has(j) || !plainMatmul(m2) || m2.inputs[1]!.abs.dims.length !== 2) return null;
  const [h, B] = m2.inputs as [Var, Var];
  const u = ix.defBy(h, ...ACT_PRIMS);
  const z = u ? u.e.inputs[0]! : h;
  const m1 = ix.defBy(z, "matmul");
  if (!m1 || !plainMatmul(m1.e) || m1.e.inputs[1]!.abs.dims.length !== 2) return null;
  const [x, A] = m1.e.inputs as [Var, Var];
  const r = A.shape[1]!;
  if (r > maxRank || x.shape.length !== h.shape.length) return null;

  const absorbed = [m1.i, ...(u ? [u.i] : []), j];
  const inputs: [string, Var][] = [
    ["x", x],
    ["A", A],
    ["B", B],
  ];
  const { y, epilogue } = foldEpilogue(ix, m2.out, absorbed, inputs);
  const inside = new Set(absorbed);
  const outputs: [string, Var][] = [["y", y]];
  if (u && ix.usedOutside(z, inside)) outputs.push(["z", z]);
  if (ix.usedOutside(h, inside)) outputs.push(["h", h]);
  const act = u ? ACT_OF[u.e.prim]! : "identity";
  return build(ix, absorbed, inputs, outputs, { kind: LOWRANK, act, r, epilogue });
}

/**
 * y = act(x)·B [⊕ e], anchored at the matmul j, where x is `linked`: the y of the fused node before it
 * in a longer chain, whose first product that node already owns (see fuseChains). Only such links:
 * an activation before a lone matmul elsewhere in a model stays as it is.
 */
export function matchTail(ix: GraphIndex, j: number, maxRank: number, linked: (v: Var) => boolean): Match | null {
  const m = ix.g.eqns[j]!;
  if (ix.absorbed.has(j) || !plainMatmul(m) || m.inputs[1]!.abs.dims.length !== 2) return null;
  const [h, B] = m.inputs as [Var, Var];
  const u = ix.defBy(h, ...ACT_PRIMS);
  if (!u) return null; // with no activation there is nothing to fold into the product
  const x = u.e.inputs[0]!;
  const r = x.shape.at(-1)!;
  if (!linked(x) || r > maxRank || r !== B.shape[0]) return null;

  const absorbed = [u.i, j];
  const inputs: [string, Var][] = [
    ["x", x],
    ["B", B],
  ];
  const { y, epilogue } = foldEpilogue(ix, m.out, absorbed, inputs);
  const outputs: [string, Var][] = [["y", y]];
  if (ix.usedOutside(h, new Set(absorbed))) outputs.push(["h", h]);
  return build(ix, absorbed, inputs, outputs, { kind: LOWRANK_TAIL, act: ACT_OF[u.e.prim]!, r, epilogue });
}

/**
 * Folds y's one reader into the node when it is `y ⊕ e` (add: residual, mul: gating) with e of y's
 * shape: pushes its index onto `absorbed` and e onto `inputs`, and returns the node's new result.
 */
function foldEpilogue(
  ix: GraphIndex,
  y: Var,
  absorbed: number[],
  inputs: [string, Var][],
): { y: Var; epilogue: LowrankParams["epilogue"] } {
  const users = ix.usersOf(y);
  if (users.length !== 1 || ix.outputs.has(y)) return { y, epilogue: "none" };
  const k = ix.g.eqns[users[0]!]!;
  const other = k.inputs[0] === y ? k.inputs[1] : k.inputs[0];
  if ((k.prim !== "add" && k.prim !== "mul") || !other || other === y || !sameShape(other, y))
    return { y, epilogue: "none" };
  if (ix.absorbed.has(users[0]!)) return { y, epilogue: "none" };
  absorbed.push(users[0]!);
  inputs.push(["e", other]);
  return { y: k.out, epilogue: k.prim };
}
