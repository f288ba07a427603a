/**
 * Tile sizes for the fused chain kernels, chosen from the device's limits (never from its name).
 *
 * A row-chain workgroup (rowChain.ts) owns `rows` tokens and keeps their rank-r block (rows × rankTile
 * floats) in workgroup memory; each invocation computes micro-tiles of `rm` rows × 4 columns in
 * registers. A rank fits when one row's block does: that is the largest rank the backend may fuse
 * (`maxFusedRank`), so the planner leaves larger chains unfused.
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
  /** Rows per micro-tile (each invocation holds rm × 4 sums). */
  readonly rm: number;
  readonly threads: number;
}

export interface ReduceTile {
  /** Invocations along the output's columns and rows; each computes a 4 × 4 block. */
  readonly tx: number;
  readonly ty: number;
}

const MAX_ROWS = 32;
const MICRO_ROWS = 4;
const F32 = 4;

const threadsOf = (l: DeviceLimits) => Math.min(256, l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX);
export const rankTileOf = (r: number): number => Math.max(4, 2 ** Math.ceil(Math.log2(Math.max(r, 1))));

/** The row-chain tile for rank r, or null when not even one row's rank block fits. */
export function rowChainTile(r: number, l: DeviceLimits): RowChainTile | null {
  const rankTile = rankTileOf(r);
  let rows = MAX_ROWS;
  while (rows >= 1 && F32 * rows * rankTile > l.maxComputeWorkgroupStorageSize) rows /= 2;
  if (rows < 1) return null;
  return { rows, rankTile, rm: Math.min(MICRO_ROWS, rows), threads: threadsOf(l) };
}

/** The token-reduction tile (dA = xᵀ·dZ, dB = hᵀ·dY): 16 × (threads / 16) invocations, 4 × 4 outputs each. */
export function reduceTile(l: DeviceLimits): ReduceTile | null {
  const ty = Math.floor(threadsOf(l) / 16);
  return ty >= 1 ? { tx: 16, ty } : null;
}

/** The largest rank r whose row-chain tile fits (0: none does, or the reduction does not). */
export function maxFusedRankOf(l: DeviceLimits): number {
  if (!reduceTile(l)) return 0;
  let r = 0;
  for (let t = 4; t <= 1 << 16 && rowChainTile(t, l); t *= 2) r = t;
  return r;
}
