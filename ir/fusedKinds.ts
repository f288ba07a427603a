import type { FusedEqn, FusedParams } from "./graph.ts";

/**
 * The fused kernel kinds the chain pass emits. Each names its inputs and outputs, so a backend's
 * kernel (and a reader of `plan.toString()`) finds every buffer by role, not by position.
 *
 * lowrank:          y = act(x·A)·B, then an optional epilogue y ⊕ e (⊕ = add: residual, mul: gating);
 *                   inputs x, A, B[, e]; outputs y[, z = x·A][, h = act(z)] (z, h where backward reads them).
 * lowrankTail:      y = act(x)·B [⊕ e], the next link of a longer chain (`C·σ(B·σ(A·x))`), whose first
 *                   product belongs to the lowrank node before it: x is that node's y, of width r;
 *                   inputs x, B[, e]; outputs y[, h = act(x)]. Its backward is a lowrankBackward with no
 *                   dX or dA (those belong to the previous link's backward): outputs dB and dZ.
 * lowrankBackward:  dZ = (dY·Bᵀ) ⊙ act'(z); dX = dZ·Aᵀ [+ acc], dA = xᵀ·dZ, dB = hᵀ·dY, each where the
 *                   graph computes it; inputs dY, B[, z][, A][, acc][, x][, h]; outputs [dX][, dA][, dB][, dZ].
 *
 * attention:         O = softmax_causal(q·kᵀ)·v per leading index (passes/attentionChain.ts); inputs q, k, v;
 *                    outputs O[, P] (P where something other than the backward node reads it).
 * attentionBackward: from dO, with P recomputed from q and k (flash-style, so P is never saved):
 *                    dS = P ⊙ (dO·vᵀ − rowsum(dO·vᵀ ⊙ P)); dQ = dS·k, dK = dSᵀ·q, dV = Pᵀ·dO, each where the
 *                    graph computes it; inputs q, k, v, dO; outputs [dQ][, dK][, dV].
 *                    Either attention node may have `layout: "bthd"` (passes/headLayout.ts): then every
 *                    input and output but P is [.., T, H, d], the head-split layout, and the body starts
 *                    and ends with the transposes to and from the [.., H, T, d] it computes in.
 * ropeHeads:         y = rope(x) on x [.., T, H, Dh] (position is the T index), times a scalar c before or
 *                    after the rotation; inputs x[, c]; output y. A target that lists it also runs the
 *                    attention nodes' `bthd` layout.
 */
export const LOWRANK = "lowrank";
/** The next link of a longer lowrank chain: y = act(x)·B [⊕ e] on the previous lowrank node's y. */
export const LOWRANK_TAIL = "lowrankTail";
/** Fused backward of a lowrank chain. */
export const LOWRANK_BWD = "lowrankBackward";
/** Fused causal attention O = softmax_causal(q·kᵀ)·v. */
export const ATTENTION = "attention";
/** Fused backward of attention, recomputing P. */
export const ATTENTION_BWD = "attentionBackward";
/** RoPE (and a scalar factor) on the head-split layout [.., T, H, Dh], with no transposes. */
export const ROPE_HEADS = "ropeHeads";
/** Every fused chain kind above. */
export const CHAIN_KINDS: readonly string[] = [LOWRANK, LOWRANK_TAIL, LOWRANK_BWD, ATTENTION, ATTENTION_BWD];
/**
 * A group of elementwise primitives run as one loop over one output shape (passes/elementwiseFusion.ts):
 * inputs are read with numpy broadcasting, outputs are every member value the rest of the graph reads.
 * Its inputs and outputs are named in0.. and out0..; the body holds the equations in order.
 */
export const ELEMENTWISE = "elementwise";
/**
 * A matmul with an accumulate epilogue (passes/matmulEpilogue.ts): y = op(a)·op(b) + c, c of y's shape,
 * read once (the GEMM starts each output tile from c); params transA, transB as the matmul's.
 * Inputs a, b, c; output y. Residual adds and gradient accumulations are its cases.
 */
export const MATMUL_ADD = "matmulAdd";
/**
 * A group over rows [...rowDims, width] (passes/rowFusion.ts): elementwise ops on full rows or on
 * row scalars ([...rowDims, 1] or [...rowDims]), last-axis sum/mean/max, the reshapes between row
 * scalars, rmsnorm, softmax and logSoftmax, run as one pass over each row. Named like elementwise.
 */
export const ROW = "row";
/**
 * Not a node kind but a capability of a target's row kernels: they also compute column reductions
 * (sum or mean over every leading axis, e.g. RMSNorm's weight gradient) and oneHot of int32 ids.
 */
export const ROW_COLUMNS = "rowColumns";
/**
 * A matmul whose product feeds an elementwise group of its shape (passes/matmulEpilogueFusion.ts):
 * the body is the matmul then the group's equations, run on each block of the product while it is in
 * cache. Params transA, transB as the matmul's; inputs a, b, in0.. (the group's other inputs, read
 * with broadcasting); outputs [y (the product, where the graph reads it),] out0.. (the group's).
 */
export const MATMUL_EPILOGUE = "matmulEpilogue";
/**
 * Every fused kind a target's caps may list: the chain kinds, elementwise and row groups, matmul
 * epilogues and rope on the head-split layout.
 */
export const FUSED_KINDS: readonly string[] = [
  ...CHAIN_KINDS,
  ELEMENTWISE,
  ROW,
  ROW_COLUMNS,
  MATMUL_ADD,
  MATMUL_EPILOGUE,
  ROPE_HEADS,
];

/** Activations a lowrank chain may have in its middle. */
export const CHAIN_ACTS = ["identity", "silu", "gelu", "relu"] as const;
/** One of CHAIN_ACTS. */
export type ChainAct = (typeof CHAIN_ACTS)[number];

/** Params of a lowrank node: its activation, rank and epilogue. */
export interface LowrankParams extends FusedParams {
  readonly kind: typeof LOWRANK;
  readonly act: ChainAct;
  readonly r: number;
  readonly epilogue: "none" | "add" | "mul";
}

/** Params of a lowrankTail node: its activation, the width r of its input x, and its epilogue. */
export interface LowrankTailParams extends FusedParams {
  readonly kind: typeof LOWRANK_TAIL;
  readonly act: ChainAct;
  readonly r: number;
  readonly epilogue: "none" | "add" | "mul";
}

/** Params of a lowrankBackward node: its activation and rank. */
export interface LowrankBwdParams extends FusedParams {
  readonly kind: typeof LOWRANK_BWD;
  readonly act: ChainAct;
  readonly r: number;
}

/** Params of an attention or attentionBackward node; `layout: "bthd"`: operands in the head-split layout. */
export interface AttentionParams extends FusedParams {
  readonly kind: typeof ATTENTION | typeof ATTENTION_BWD;
  readonly causal: true;
  readonly layout?: "bthd";
}

/** Params of a ropeHeads node: the rope's base and direction, and where the scalar c multiplies. */
export interface RopeHeadsParams extends FusedParams {
  readonly kind: typeof ROPE_HEADS;
  readonly base: number;
  readonly inverse: boolean;
  readonly scale: "none" | "before" | "after";
}

/** Is this fused node a lowrank chain? */
export const isLowrank = (e: FusedEqn): e is FusedEqn & { params: LowrankParams } => e.params.kind === LOWRANK;
/** Is this fused node the tail link of a longer lowrank chain? */
export const isLowrankTail = (e: FusedEqn): e is FusedEqn & { params: LowrankTailParams } =>
  e.params.kind === LOWRANK_TAIL;
/** Is this fused node a lowrank chain's backward? */
export const isLowrankBwd = (e: FusedEqn): e is FusedEqn & { params: LowrankBwdParams } =>
  e.params.kind === LOWRANK_BWD;
/** Is this fused node attention? */
export const isAttention = (e: FusedEqn): e is FusedEqn & { params: AttentionParams } => e.params.kind === ATTENTION;
/** Is this fused node attention's backward? */
export const isAttentionBwd = (e: FusedEqn): e is FusedEqn & { params: AttentionParams } =>
  e.params.kind === ATTENTION_BWD;

/** Is this fused node rope on the head-split layout? */
export const isRopeHeads = (e: FusedEqn): e is FusedEqn & { params: RopeHeadsParams } => e.params.kind === ROPE_HEADS;

/** Is this fused node a group of elementwise primitives? */
export const isElementwise = (e: FusedEqn): boolean => e.params.kind === ELEMENTWISE;

/** Params of a row node: the row shape its members are read against. */
export interface RowParams extends FusedParams {
  readonly kind: typeof ROW;
  readonly rowDims: readonly number[];
  readonly width: number;
}
/** Is this fused node a row group? */
export const isRow = (e: FusedEqn): e is FusedEqn & { params: RowParams } => e.params.kind === ROW;

/** What the pass may fuse on a target: read from a backend's caps, never from its name. */
export interface ChainCaps {
  readonly maxRank: number;
  readonly kinds: ReadonlySet<string>;
}

/** Params of a matmulAdd node: the matmul's transpose flags. */
export interface MatmulAddParams extends FusedParams {
  readonly kind: typeof MATMUL_ADD;
  readonly transA: boolean;
  readonly transB: boolean;
}

/** Is this fused node a matmul with an accumulate epilogue? */
export const isMatmulAdd = (e: FusedEqn): e is FusedEqn & { params: MatmulAddParams } => e.params.kind === MATMUL_ADD;

/** Params of a matmulEpilogue node: the matmul's transpose flags. */
export interface MatmulEpilogueParams extends FusedParams {
  readonly kind: typeof MATMUL_EPILOGUE;
  readonly transA: boolean;
  readonly transB: boolean;
}

/** Is this fused node a matmul with an elementwise epilogue? */
export const isMatmulEpilogue = (e: FusedEqn): e is FusedEqn & { params: MatmulEpilogueParams } =>
  e.params.kind === MATMUL_EPILOGUE;
