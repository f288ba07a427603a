import type { BackendCaps } from "../ir/backend.ts";
import { FUSED_KINDS, type ChainCaps } from "../ir/fusedKinds.ts";

/**
 * What the chain pass may fuse for a backend, from its caps alone: nothing where it has no fused
 * kernels (or `fusion: false`), else the kinds it lists up to its largest rank.
 */
export function chainCapsOf(caps: BackendCaps, fusion = true): ChainCaps | undefined {
  if (!fusion || !caps.fusedChains) return undefined;
  const kinds = new Set(FUSED_KINDS.filter((k) => caps.fusedKinds?.has(k) ?? false));
  return kinds.size ? { maxRank: caps.maxFusedRank ?? Infinity, kinds } : undefined;
}
