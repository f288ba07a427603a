import type { ChainAct } from "../../../ir/fusedKinds.ts";
import { rowChainPreamble } from "./rowChainPreamble.ts";
import { rowChainVec4Code } from "./rowChainVec4.ts";
import type { FusedProgram } from "./program.ts";
import type { RowChainTile } from "./tiling.ts";

/**
 * The row chain: a whole low-rank chain for a tile of tokens in one workgroup, in one dispatch.
 *
 *   forward   z = x·A,  h = act(z),           y  = h·B  [+ e | ⊙ e]     (x n×dIn, A dIn×r, B r×dOut)
 *   tail      z = x,    h = act(x),           y  = h·B  [+ e | ⊙ e]     (x n×r: a longer chain's next link)
 *   backward  dH = dY·Bᵀ, dZ = dH ⊙ act'(z),  dX = dZ·Aᵀ [+ acc]
 *
 * Both are `rank block = first product, elementwise; out = rank block · second matrix`: the first
 * product accumulates micro-tiles (rm rows × 4 columns) in registers, the elementwise step puts the
 * rows × r block in workgroup memory, and after one barrier the second product reads it from there. The n × r
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
  /** A forward tail link: no first product, x is already the rank-r block (z = x). */
  readonly tail?: boolean;
  readonly tile: RowChainTile;
  /** Every width (dIn, r, dOut) is a multiple of 4: buffers as vec4, 4 columns per step (rowChainVec4.ts). */
  readonly vec4: boolean;
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
  readonly vec4: boolean;

  constructor(readonly spec: RowChainSpec) {
    const s = spec,
      n = ROLES[s.direction],
      fwd = s.direction === "forward";
    if (!fwd && s.writeH) throw new Error("rowChain: h is a forward output");
    if (!s.second && !s.writeMid && !s.writeH) throw new Error("rowChain: a program that writes nothing");
    if (s.tail && (!fwd || s.writeMid))
      throw new Error("rowChain: only a forward chain starts without its first product");
    this.variableNames = [
      n.inp,
      ...(s.tail ? [] : [n.w1]),
      ...(!fwd && s.act !== "identity" ? ["z"] : []),
      ...(s.second ? [n.w2] : []),
      ...(s.second && s.epilogue !== "none" ? [n.epi] : []),
    ];
    this.outputNames = [...(s.second ? [n.out] : []), ...(s.writeMid ? [n.mid] : []), ...(s.writeH ? ["h"] : [])];
    this.workgroupSize = [s.tile.threads, 1, 1];
    const t = s.tile;
    this.shaderKey = [
      "rowChain",
      s.tail ? "tail" : s.direction,
      s.act,
      s.epilogue,
      `o${this.outputNames.join("")}`,
      `r${t.rankTile}`,
      `m${t.rows}x${t.rm}x${t.threads}`,
      s.vec4 ? "vec4" : "f32",
    ].join("_");
    this.vec4 = s.vec4;
  }

  getUserCode(): string {
    const s = this.spec,
      n = ROLES[s.direction],
      fwd = s.direction === "forward";
    if (s.vec4) return rowChainVec4Code(s, n);
    // first matrix: forward A[c, k] (dIn × r); backward Bᵀ, B[k, c] (r × dOut). Second: forward B[k, j]; backward Aᵀ, A[j, k].
    const w1 = fwd ? `A[c * sizes.r + k]` : `B[k * sizes.k1 + c]`;
    const w2 = fwd ? `B[k * sizes.k2 + j]` : `A[j * sizes.r + k]`;
    const block = fwd
      ? [
          `v = act_(sum);`,
          s.writeMid ? `if (gi < n) { z[gi * r + k] = sum; }` : "",
          s.writeH ? `if (gi < n) { h[gi * r + k] = v; }` : "",
        ]
      : [
          s.act === "identity" ? `v = sum;` : `v = sum * dact_(z[min(gi, last) * r + k]);`,
          s.writeMid ? `if (gi < n) { dZ[gi * r + k] = v; }` : "",
        ];
    const epi =
      s.epilogue === "add"
        ? `o = o + ${n.epi}[gi * k2 + j];`
        : s.epilogue === "mul"
          ? `o = o * ${n.epi}[gi * k2 + j];`
          : "";
    const helpers = `${s.tail ? "" : `fn w1At(c : i32, k : i32) -> f32 { return ${w1}; }`}
${s.second ? `fn w2At(k : i32, j : i32) -> f32 { return ${w2}; }` : ""}
fn clamp4(i0 : i32, hi : i32) -> vec4<i32> { return min(vec4<i32>(i0, i0 + 1, i0 + 2, i0 + 3), vec4<i32>(max(hi, 0))); }`;
    const rank = !s.tail
      ? `  // ${fwd ? "z = x·A" : "dH = dY·Bᵀ"} for this workgroup's rows, in micro-tiles of RM rows × 4 rank columns
  // (rows past n read row n-1 and store nothing)
  let kg = (r + 3) / 4;
  for (var mt = tid; mt < (ROWS / RM) * kg; mt += THREADS) {
    let i0 = (mt / kg) * RM;
    let k0 = (mt % kg) * 4;
    let kc = clamp4(k0, r - 1);
    var at : array<i32, RM>;
    var part : array<vec4<f32>, RM>;
    for (var a = 0; a < RM; a++) {
      at[a] = min(row0 + i0 + a, last) * k1;
      part[a] = vec4<f32>(0.0);
    }
    for (var c = 0; c < k1; c++) {
      let w = vec4<f32>(w1At(c, kc.x), w1At(c, kc.y), w1At(c, kc.z), w1At(c, kc.w));
      for (var a = 0; a < RM; a++) { part[a] = fma(vec4<f32>(${n.inp}[at[a] + c]), w, part[a]); }
    }
    // the rank block, kept in workgroup memory: ${fwd ? "h = act(z)" : "dZ = dH ⊙ act'(z)"}
    for (var a = 0; a < RM; a++) {
      let gi = row0 + i0 + a;
      for (var b = 0; b < 4; b++) {
        let k = k0 + b;
        if (k < r) {
          let sum = part[a][b];
          var v = 0.0;
          ${block.filter(Boolean).join("\n          ")}
          rankBlock[(i0 + a) * RT + k] = v;
        }
      }
    }
  }
`
      : tailBlock(s.writeH);
    return `${rowChainPreamble(s, helpers)}
${rank}  workgroupBarrier();
${
  s.second
    ? `  // ${fwd ? "y = h·B" : "dX = dZ·Aᵀ"} from the rank block, in micro-tiles of RM rows × 4 output columns
  let jg = (k2 + 3) / 4;
  for (var mt = tid; mt < (ROWS / RM) * jg; mt += THREADS) {
    let i0 = (mt / jg) * RM;
    let j0 = (mt % jg) * 4;
    let jc = clamp4(j0, k2 - 1);
    var part : array<vec4<f32>, RM>;
    for (var a = 0; a < RM; a++) { part[a] = vec4<f32>(0.0); }
    for (var k = 0; k < r; k++) {
      let w = vec4<f32>(w2At(k, jc.x), w2At(k, jc.y), w2At(k, jc.z), w2At(k, jc.w));
      for (var a = 0; a < RM; a++) { part[a] = fma(vec4<f32>(rankBlock[(i0 + a) * RT + k]), w, part[a]); }
    }
    for (var a = 0; a < RM; a++) {
      let gi = row0 + i0 + a;
      if (gi < n) {
        for (var b = 0; b < 4; b++) {
          let j = j0 + b;
          if (j < k2) {
            var o = part[a][b];
            ${epi}
            ${n.out}[gi * k2 + j] = o;
          }
        }
      }
    }
  }`
    : ""
}
}`;
  }
}

/** The tail's rank block: h = act(x) for this workgroup's rows, x already r wide (rows past n read row n-1). */
function tailBlock(writeH: boolean): string {
  return `  // the rank block, kept in workgroup memory: h = act(x) (a tail link: x is the previous link's y)
  for (var idx = tid; idx < ROWS * r; idx += THREADS) {
    let i0 = idx / r;
    let k = idx % r;
    let gi = row0 + i0;
    let v = act_(x[min(gi, last) * r + k]);
    ${writeH ? "if (gi < n) { h[gi * r + k] = v; }" : ""}
    rankBlock[i0 * RT + k] = v;
  }
`;
}
