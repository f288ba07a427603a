/**
 * Tile sizes for the fused chain kernels, chosen from the device's limits (never from its name).
 *
 * A row-chain workgroup (rowChain.ts) owns `rows` tokens and keeps their rank-r block (rows × rankTile
 * floats) in workgroup memory, next to a rows × depth slice of its input; each invocation accumulates
 * at most `perThread` entries of that block in registers. A rank fits when one row does: that is the
 * largest rank the backend may fuse (`maxFusedRank`), so the planner leaves larger chains unfused.
 */
export interface DeviceLimits {
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupsPerDimension: number;
}

export interface RowChainTile {
  /** Tokens per workgroup. */
  readonly rows: number;
  /** The rank rounded up to a power of two (≥ 4): one program serves every rank up to it. */
  readonly rankTile: number;
  /** Input columns staged in workgroup memory per step of the first product. */
  readonly depth: number;
  readonly threads: number;
  /** Rank-block entries each invocation accumulates (rows · rankTile / threads, rounded up). */
  readonly perThread: number;
}

export interface ReduceTile {
  /** Invocations along the output's columns and rows; each computes a 2 × 2 block. */
  readonly tx: number;
  readonly ty: number;
  /** Tokens staged per step. */
  readonly depth: number;
}

const MAX_ROWS = 64;
const MAX_PER_THREAD = 16;
const DEPTH = 16;
const F32 = 4;

const threadsOf = (l: DeviceLimits) => Math.min(256, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
export const rankTileOf = (r: number): number => Math.max(4, 2 ** Math.ceil(Math.log2(Math.max(r, 1))));

/** The row-chain tile for rank r, or null when not even one row's rank block fits. */
export function rowChainTile(r: number, l: DeviceLimits): RowChainTile | null {
  const threads = threadsOf(l);
  const rankTile = rankTileOf(r);
  const fits = (rows: number) => rows * rankTile <= threads * MAX_PER_THREAD && F32 * rows * (rankTile + DEPTH) <= l.maxComputeWorkgroupStorageSize;
  let rows = MAX_ROWS;
  while (rows >= 1 && !fits(rows)) rows /= 2;
  if (rows < 1) return null;
  return { rows, rankTile, depth: DEPTH, threads, perThread: Math.ceil((rows * rankTile) / threads) };
}

/** The token-reduction tile (dA = xᵀ·dZ, dB = hᵀ·dY): 16 × (threads / 16) invocations, 2 × 2 outputs each. */
export function reduceTile(l: DeviceLimits): ReduceTile | null {
  const threads = threadsOf(l);
  const tx = 16, ty = Math.floor(threads / 16), depth = 16;
  if (ty < 1 || F32 * depth * (2 * tx + 2 * ty) > l.maxComputeWorkgroupStorageSize) return null;
  return { tx, ty, depth };
}

/** The largest rank r whose row-chain tile fits (0: none does, or the reduction does not). */
export function maxFusedRankOf(l: DeviceLimits): number {
  if (!reduceTile(l)) return 0;
  let r = 0;
  for (let t = 4; t <= 1 << 16 && rowChainTile(t, l); t *= 2) r = t;
  return r;
}
