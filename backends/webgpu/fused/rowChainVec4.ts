import { activationWgsl } from "./activations.ts";
import type { RowChainSpec } from "./rowChain.ts";

/**
 * The row chain's WGSL when every width (dIn, r, dOut) is a multiple of 4, as in real model configs:
 * the same algorithm as rowChain.ts's scalar code, but every buffer is read and written as vec4 and
 * each step of the sums takes 4 columns at once, so a 4 × 4 micro-tile costs 8 vector loads per 64
 * multiply-adds instead of 8 scalar loads per 16. (Software adapters such as llvmpipe gather every
 * load lane by lane, so fewer, wider loads are most of the speed there; GPUs like them too.)
 *
 *   forward   part += x[i, c..c+3] · A[c..c+3, k..k+3]        (axpy over 4 rows of A)
 *   backward  part += dY[i, c..c+3] · B[k..k+3, c..c+3]ᵀ     (4 dot products)
 */
export function rowChainVec4Code(s: RowChainSpec, names: { inp: string; epi: string; out: string }): string {
  const t = s.tile, fwd = s.direction === "forward";
  const first = fwd
    ? `let w0 = A[(c * r + k0) / 4];
      let w1 = A[((c + 1) * r + k0) / 4];
      let w2 = A[((c + 2) * r + k0) / 4];
      let w3 = A[((c + 3) * r + k0) / 4];
      for (var a = 0; a < RM; a++) {
        let xv = ${names.inp}[at[a] + c / 4];
        part[a] = fma(vec4<f32>(xv.x), w0, fma(vec4<f32>(xv.y), w1, fma(vec4<f32>(xv.z), w2, fma(vec4<f32>(xv.w), w3, part[a]))));
      }`
    : `let b0 = B[(k0 * k1 + c) / 4];
      let b1 = B[((k0 + 1) * k1 + c) / 4];
      let b2 = B[((k0 + 2) * k1 + c) / 4];
      let b3 = B[((k0 + 3) * k1 + c) / 4];
      for (var a = 0; a < RM; a++) {
        let xv = ${names.inp}[at[a] + c / 4];
        part[a] += vec4<f32>(dot(xv, b0), dot(xv, b1), dot(xv, b2), dot(xv, b3));
      }`;
  const second = fwd
    ? `let w0 = B[(k * k2 + j0) / 4];
      let w1 = B[((k + 1) * k2 + j0) / 4];
      let w2 = B[((k + 2) * k2 + j0) / 4];
      let w3 = B[((k + 3) * k2 + j0) / 4];
      for (var a = 0; a < RM; a++) {
        let hv = rankBlock[((i0 + a) * RT + k) / 4];
        part[a] = fma(vec4<f32>(hv.x), w0, fma(vec4<f32>(hv.y), w1, fma(vec4<f32>(hv.z), w2, fma(vec4<f32>(hv.w), w3, part[a]))));
      }`
    : `let a0 = A[(j0 * r + k) / 4];
      let a1 = A[((j0 + 1) * r + k) / 4];
      let a2 = A[((j0 + 2) * r + k) / 4];
      let a3 = A[((j0 + 3) * r + k) / 4];
      for (var a = 0; a < RM; a++) {
        let hv = rankBlock[((i0 + a) * RT + k) / 4];
        part[a] += vec4<f32>(dot(hv, a0), dot(hv, a1), dot(hv, a2), dot(hv, a3));
      }`;
  const block = fwd
    ? [`let v = act4(sum);`, s.writeMid ? `if (gi < n) { z[(gi * r + k0) / 4] = sum; }` : "", s.writeH ? `if (gi < n) { h[(gi * r + k0) / 4] = v; }` : ""]
    : [s.act === "identity" ? `let v = sum;` : `let v = sum * dact4(z[(min(gi, last) * r + k0) / 4]);`, s.writeMid ? `if (gi < n) { dZ[(gi * r + k0) / 4] = v; }` : ""];
  const epi = s.epilogue === "add" ? `o = o + ${names.epi}[(gi * k2 + j0) / 4];` : s.epilogue === "mul" ? `o = o * ${names.epi}[(gi * k2 + j0) / 4];` : "";
  return `
const ROWS : i32 = ${t.rows};
const RM : i32 = ${t.rm};
const THREADS : i32 = ${t.threads};
const RT : i32 = ${t.rankTile};
var<workgroup> rankBlock : array<vec4<f32>, ${(t.rows * t.rankTile) / 4}>;
${activationWgsl(s.act)}
fn act4(v : vec4<f32>) -> vec4<f32> { return vec4<f32>(act_(v.x), act_(v.y), act_(v.z), act_(v.w)); }
fn dact4(v : vec4<f32>) -> vec4<f32> { return vec4<f32>(dact_(v.x), dact_(v.y), dact_(v.z), dact_(v.w)); }

fn main(tid : i32, grp : i32, wid : vec2<i32>) {
  let n = sizes.n;
  let k1 = sizes.k1;
  let r = sizes.r;
  let k2 = sizes.k2;
  let row0 = grp * ROWS;
  let last = max(n - 1, 0);
  // ${fwd ? "z = x·A" : "dH = dY·Bᵀ"} in micro-tiles of RM rows × 4 rank columns (rows past n read row n-1, store nothing)
  let kg = r / 4;
  for (var mt = tid; mt < (ROWS / RM) * kg; mt += THREADS) {
    let i0 = (mt / kg) * RM;
    let k0 = (mt % kg) * 4;
    var at : array<i32, RM>;
    var part : array<vec4<f32>, RM>;
    for (var a = 0; a < RM; a++) {
      at[a] = min(row0 + i0 + a, last) * (k1 / 4);
      part[a] = vec4<f32>(0.0);
    }
    for (var c = 0; c < k1; c += 4) {
      ${first}
    }
    // the rank block, kept in workgroup memory: ${fwd ? "h = act(z)" : "dZ = dH ⊙ act'(z)"}
    for (var a = 0; a < RM; a++) {
      let gi = row0 + i0 + a;
      let sum = part[a];
      ${block.filter(Boolean).join("\n      ")}
      rankBlock[((i0 + a) * RT + k0) / 4] = v;
    }
  }
  workgroupBarrier();
${s.second ? `  // ${fwd ? "y = h·B" : "dX = dZ·Aᵀ"} from the rank block, in micro-tiles of RM rows × 4 output columns
  let jg = k2 / 4;
  for (var mt = tid; mt < (ROWS / RM) * jg; mt += THREADS) {
    let i0 = (mt / jg) * RM;
    let j0 = (mt % jg) * 4;
    var part : array<vec4<f32>, RM>;
    for (var a = 0; a < RM; a++) { part[a] = vec4<f32>(0.0); }
    for (var k = 0; k < r; k += 4) {
      ${second}
    }
    for (var a = 0; a < RM; a++) {
      let gi = row0 + i0 + a;
      if (gi < n) {
        var o = part[a];
        ${epi}
        ${names.out}[(gi * k2 + j0) / 4] = o;
      }
    }
  }` : ""}
}`;
}
