import type { Backend, BackendCaps } from "../../ir/backend.ts";
import { PRIMS } from "../../ir/prims.ts";
import {
  CHAIN_KINDS,
  ELEMENTWISE,
  MATMUL_ADD,
  ROPE_HEADS,
  ROW,
  ROW_COLUMNS,
  type ChainCaps,
} from "../../ir/fusedKinds.ts";
import type { FusedEqn, Graph, Node } from "../../ir/graph.ts";
import { backendRequirement } from "../helpers/requirements.ts";

/** Every chain kind at any rank: what fuseChains may fuse when a test plans without a backend. */
export const ALL_CHAINS: ChainCaps = { maxRank: Infinity, kinds: new Set(CHAIN_KINDS) };

/** The fused nodes of a graph: kernel counts are the spec of fusion. */
export const fusedNodes = (g: Graph<Node>): FusedEqn[] => g.eqns.filter((e): e is FusedEqn => e.prim === "fused");

/** The same backend with other caps (its kernels unchanged): how tests make the planner fuse or not. */
export const withCaps = <B>(be: Backend<B>, caps: Partial<BackendCaps>): Backend<B> => ({
  ...be,
  caps: { ...be.caps, ...caps },
});

/** Claims every chain kind: a backend with no fused kernel then runs each fused node by its parts. */
export const claimingChains = <B>(be: Backend<B>, maxFusedRank = Infinity): Backend<B> =>
  withCaps({ ...be, prepareFused: undefined }, { fusedChains: true, fusedKinds: new Set(CHAIN_KINDS), maxFusedRank });

/** Declares no fused kernels: the planner then leaves every chain unfused. */
export const noFusedKernels = <B>(be: Backend<B>): Backend<B> => withCaps(be, { fusedChains: false });

/**
 * The same backend claiming only the chain kinds: no elementwise or row groups, matmul epilogues or head layouts, so chain
 * kernel counts stay exact.
 */
export const chainsOnly = <B>(be: Backend<B>): Backend<B> =>
  withCaps(be, { fusedKinds: new Set([...(be.caps.fusedKinds ?? [])].filter((k) => CHAIN_KINDS.includes(k))) });

/** The same backend without matmul epilogues (every other kind it claims kept): the pass off. */
export const noMatmulEpilogues = <B>(be: Backend<B>): Backend<B> =>
  withCaps(be, { fusedKinds: new Set([...(be.caps.fusedKinds ?? [])].filter((k) => k !== MATMUL_ADD)) });

/**
 * The native backend, or null with the reason printed (its addon needs g++ and Node headers); CI sets
 * RANKFUSE_REQUIRE_NATIVE, which turns a missing addon into a failure (this throws, failing the file).
 * The chain tests count chain kernels, so by default it claims the chain kinds only (chainsOnly);
 * `{ elementwise: true }` adds elementwise groups (generated kernels), `{ rows: true }` row groups; `{ epilogues: true }` adds matmul
 * epilogues (passes/matmulEpilogue.ts), `{ heads: true }` the head-split layout (passes/headLayout.ts),
 * so each suite's kernel counts and exact comparisons see only the fusions it tests.
 */
export async function nativeOrSkip(
  o: { elementwise?: boolean; rows?: boolean; epilogues?: boolean; heads?: boolean } = {},
): Promise<Backend<any> | null> {
  const native = await backendRequirement("native");
  if (native.skip) return null;
  const be = native.get();
  const kinds = [
    ...CHAIN_KINDS,
    ...(o.elementwise ? [ELEMENTWISE] : []),
    ...(o.rows ? [ROW, ROW_COLUMNS] : []),
    ...(o.epilogues ? [MATMUL_ADD] : []),
    ...(o.heads ? [ROPE_HEADS] : []),
  ];
  return withCaps(be, { fusedKinds: new Set([...(be.caps.fusedKinds ?? [])].filter((k) => kinds.includes(k))) });
}

/** The same backend without row groups: elementwise groups stay as they were, bit for bit. */
export const withoutRows = <B>(be: Backend<B>): Backend<B> =>
  withCaps(be, { fusedKinds: new Set([...(be.caps.fusedKinds ?? [])].filter((k) => k !== ROW)) });

/** Caps of a float32 target with every primitive that fuses exactly `kinds` (ranks up to 256): plans without a backend. */
export const capsWith = (kinds: readonly string[]): BackendCaps => ({
  prims: new Set(PRIMS),
  fusedChains: true,
  float64: false,
  maxFusedRank: 256,
  fusedKinds: new Set(kinds),
});
