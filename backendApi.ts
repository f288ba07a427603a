/**
 * "rankfuse/backend-api": what a backend implements and reads: the Backend interface and its caps, host
 * tensors and kernels, the graph's equations, the primitive set and the fused-kernel vocabulary.
 */
export type { Backend, BackendCaps, BackendModule, HostTensor, Kernel } from "./ir/backend.ts";
export type { HostKernels } from "./ir/hostKernels.ts";
export {
  Var,
  isFused,
  type AbsVal,
  type Eqn,
  type EqnMeta,
  type FusedEqn,
  type FusedParams,
  type Node,
} from "./ir/graph.ts";
export { PRIMS, type Prim, type PrimParams, type DType } from "./ir/prims.ts";
export {
  LOWRANK,
  LOWRANK_TAIL,
  LOWRANK_BWD,
  ATTENTION,
  ATTENTION_BWD,
  CHAIN_KINDS,
  ELEMENTWISE,
  FUSED_KINDS,
  CHAIN_ACTS,
  isLowrank,
  isLowrankTail,
  isLowrankBwd,
  isAttention,
  isAttentionBwd,
  isElementwise,
  type ChainAct,
  type ChainCaps,
  type LowrankParams,
  type LowrankTailParams,
  type LowrankBwdParams,
  type AttentionParams,
} from "./ir/fusedKinds.ts";
