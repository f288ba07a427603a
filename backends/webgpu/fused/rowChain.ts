import type { ChainAct } from "../../../fusion/chainKinds.ts";
import { activationWgsl } from "./activations.ts";
import type { FusedProgram } from "./program.ts";
import type { RowChainTile } from "./tiling.ts";

/**
 * The row chain: a whole low-rank chain for a tile of tokens in one workgroup, in one dispatch.
 *
 *   forward   z = x·A,  h = act(z),           y  = h·B  [+ e | ⊙ e]     (x n×dIn, A dIn×r, B r×dOut)
 *   backward  dH = dY·Bᵀ, dZ = dH ⊙ act'(z),  dX = dZ·Aᵀ [+ acc]
 *
 * Both are `rank block = first product, elementwise; out = rank block · second matrix`: the first
 * product accumulates in registers over staged slices of the input rows, the elementwise step puts the
 * rows × r block in workgroup memory, and the second product reads it from there. The n × r
 * intermediate never goes through global memory unless the graph asks for it (z, h saved for backward;
 * dZ, which the dA reduction reads).
 */
export interface RowChainSpec {
  readonly direction: "forward" | "backward";
  readonly act: ChainAct;
  /** Forward: the y epilogue (residual add, gating product); backward: "add" when dX accumulates into acc. */
  readonly epilogue: "none" | "add" | "mul";
  /** Forward: write z; backward: write dZ. */
  readonly writeMid: boolean;
  /** Forward only: write h = act(z). */
  readonly writeH: boolean;
  /** Compute the second product (forward: always; backward: when the graph wants dX). */
  readonly second: boolean;
  readonly tile: RowChainTile;
}

/** Buffer names by role, so the printed WGSL reads like the math above. */
const ROLES = {
  forward: { inp: "x", w1: "A", w2: "B", epi: "e", out: "y", mid: "z" },
  backward: { inp: "dY", w1: "B", w2: "A", epi: "acc", out: "dX", mid: "dZ" },
} as const;

export class RowChainProgram implements FusedProgram {
  readonly variableNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly uniformNames = ["n", "k1", "r", "k2"] as const;
  readonly workgroupSize: readonly [number, number, number];
  readonly shaderKey: string;

  constructor(readonly spec: RowChainSpec) {
    const s = spec, n = ROLES[s.direction], fwd = s.direction === "forward";
    if (!fwd && s.writeH) throw new Error("rowChain: h is a forward output");
    if (!s.second && !s.writeMid && !s.writeH) throw new Error("rowChain: a program that writes nothing");
    this.variableNames = [n.inp, n.w1, ...(!fwd && s.act !== "identity" ? ["z"] : []), ...(s.second ? [n.w2] : []), ...(s.second && s.epilogue !== "none" ? [n.epi] : [])];
    this.outputNames = [...(s.second ? [n.out] : []), ...(s.writeMid ? [n.mid] : []), ...(s.writeH ? ["h"] : [])];
    this.workgroupSize = [s.tile.threads, 1, 1];
    const t = s.tile;
    this.shaderKey = ["rowChain", s.direction, s.act, s.epilogue, `o${this.outputNames.join("")}`, `r${t.rankTile}`, `m${t.rows}x${t.depth}x${t.threads}`, "f32"].join("_");
  }

  getUserCode(): string {
    const s = this.spec, t = s.tile, n = ROLES[s.direction], fwd = s.direction === "forward";
    // first matrix: forward A[c, k] (dIn × r); backward Bᵀ, B[k, c] (r × dOut). Second: forward B[k, j]; backward Aᵀ, A[j, k].
    const w1 = fwd ? `A[c * sizes.r + k]` : `B[k * sizes.k1 + c]`;
    const w2 = fwd ? `B[k * sizes.k2 + j]` : `A[j * sizes.r + k]`;
    const block = fwd
      ? [s.writeMid ? `z[at] = part[p];` : "", `v = act_(part[p]);`, s.writeH ? `h[at] = v;` : ""]
      : [s.act === "identity" ? `v = part[p];` : `v = part[p] * dact_(z[at]);`, s.writeMid ? `dZ[at] = v;` : ""];
    const epi = s.epilogue === "add" ? `acc2 = acc2 + ${n.epi}[gi * k2 + j];` : s.epilogue === "mul" ? `acc2 = acc2 * ${n.epi}[gi * k2 + j];` : "";
    return `
const ROWS : i32 = ${t.rows};
const DEPTH : i32 = ${t.depth};
const THREADS : i32 = ${t.threads};
const PER : i32 = ${t.perThread};
var<workgroup> inTile : array<f32, ${t.rows * t.depth}>;
var<workgroup> rankBlock : array<f32, ${t.rows * t.rankTile}>;
${activationWgsl(s.act)}
fn w1At(c : i32, k : i32) -> f32 { return ${w1}; }
${s.second ? `fn w2At(k : i32, j : i32) -> f32 { return ${w2}; }` : ""}

fn main(tid : i32, grp : i32, wid : vec2<i32>) {
  let n = sizes.n;
  let k1 = sizes.k1;
  let r = sizes.r;
  let k2 = sizes.k2;
  let row0 = grp * ROWS;
  let used = ROWS * r;
  // ${fwd ? "z = x·A" : "dH = dY·Bᵀ"} for this tile's rows, PER entries of the rank block per invocation
  var part : array<f32, PER>;
  for (var p = 0; p < PER; p++) { part[p] = 0.0; }
  for (var c0 = 0; c0 < k1; c0 += DEPTH) {
    for (var q = tid; q < ROWS * DEPTH; q += THREADS) {
      let i = row0 + q / DEPTH;
      let c = c0 + q % DEPTH;
      var v = 0.0;
      if (i < n && c < k1) { v = ${n.inp}[i * k1 + c]; }
      inTile[q] = v;
    }
    workgroupBarrier();
    let cm = min(DEPTH, k1 - c0);
    for (var p = 0; p < PER; p++) {
      let ent = tid + p * THREADS;
      if (ent < used) {
        let i = ent / r;
        let k = ent % r;
        var acc1 = part[p];
        for (var cc = 0; cc < cm; cc++) { acc1 += inTile[i * DEPTH + cc] * w1At(c0 + cc, k); }
        part[p] = acc1;
      }
    }
    workgroupBarrier();
  }
  // the rank block, kept in workgroup memory: ${fwd ? "h = act(z)" : "dZ = dH ⊙ act'(z)"}
  for (var p = 0; p < PER; p++) {
    let ent = tid + p * THREADS;
    if (ent < used) {
      let gi = row0 + ent / r;
      var v = 0.0;
      if (gi < n) {
        let at = gi * r + ent % r;
        ${block.filter(Boolean).join("\n        ")}
      }
      rankBlock[ent] = v;
    }
  }
  workgroupBarrier();
${s.second ? `  // ${fwd ? "y = h·B" : "dX = dZ·Aᵀ"} from the rank block
  for (var q = tid; q < ROWS * k2; q += THREADS) {
    let i = q / k2;
    let gi = row0 + i;
    if (gi < n) {
      let j = q % k2;
      var acc2 = 0.0;
      for (var k = 0; k < r; k++) { acc2 += rankBlock[i * r + k] * w2At(k, j); }
      ${epi}
      ${n.out}[gi * k2 + j] = acc2;
    }
  }` : ""}
}`;
  }
}
