import { activationWgsl } from "./activations.ts";
import type { RowChainSpec } from "./rowChain.ts";

/**
 * What the scalar and the vec4 row chain (rowChain.ts, rowChainVec4.ts) open with, written once: the tile
 * constants, the workgroup rank block (rows × rankTile floats, as f32 or as vec4 of 4), the activation, the
 * variant's own helper functions, and `main` up to its first product (sizes and the workgroup's rows).
 */
export function rowChainPreamble(s: RowChainSpec, helpers: string): string {
  const t = s.tile;
  const rankBlock = s.vec4 ? `vec4<f32>, ${(t.rows * t.rankTile) / 4}` : `f32, ${t.rows * t.rankTile}`;
  return `
const ROWS : i32 = ${t.rows};
const RM : i32 = ${t.rm};
const THREADS : i32 = ${t.threads};
const RT : i32 = ${t.rankTile};
var<workgroup> rankBlock : array<${rankBlock}>;
${activationWgsl(s.act)}
${helpers}

fn main(tid : i32, grp : i32, wid : vec2<i32>) {
  let n = sizes.n;
  let k1 = sizes.k1;
  let r = sizes.r;
  let k2 = sizes.k2;
  let row0 = grp * ROWS;
  let last = max(n - 1, 0);`;
}
