import type { RowChainSpec } from "./rowChain.ts";
import { rowChainPreamble } from "./rowChainPreamble.ts";

/**
 * The row chain's WGSL when every width (dIn, r, dOut) is a multiple of 4, as in real model configs:
 * the same algorithm as rowChain.ts's scalar code, but every buffer is read and written as vec4 and
 * each step of the sums takes 4 columns at once, so a 4 × 4 micro-tile costs 8 vector loads per 64
 * multiply-adds instead of 8 scalar loads per 16. (Software adapters such as llvmpipe gather every
 * load lane by lane, so fewer, wider loads are most of the speed there; GPUs like them too.)
 *
 *   forward   part += x[i, c..c+3] · A[c..c+3, k..k+3]        (axpy over 4 rows of A; a tail has no A: h = act(x))
 *   backward  part += dY[i, c..c+3] · B[k..k+3, c..c+3]ᵀ     (4 dot products)
 */
export function rowChainVec4Code(s: RowChainSpec, names: { inp: string; epi: string; out: string }): string {
  const fwd = s.direction === "forward";
  const first = fwd
    ? step4({
        mat: "A",
        load: "w",
        outer: "c",
        stride: "r",
        inner: "k0",
        src: `${names.inp}[at[a] + c / 4]`,
        v: "xv",
        form: "axpy",
      })
    : step4({
        mat: "B",
        load: "b",
        outer: "k0",
        stride: "k1",
        inner: "c",
        src: `${names.inp}[at[a] + c / 4]`,
        v: "xv",
        form: "dot",
      });
  const rankRow = "rankBlock[((i0 + a) * RT + k) / 4]";
  const second = fwd
    ? step4({ mat: "B", load: "w", outer: "k", stride: "k2", inner: "j0", src: rankRow, v: "hv", form: "axpy" })
    : step4({ mat: "A", load: "a", outer: "j0", stride: "r", inner: "k", src: rankRow, v: "hv", form: "dot" });
  const block = fwd
    ? [
        `let v = act4(sum);`,
        s.writeMid ? `if (gi < n) { z[(gi * r + k0) / 4] = sum; }` : "",
        s.writeH ? `if (gi < n) { h[(gi * r + k0) / 4] = v; }` : "",
      ]
    : [
        s.act === "identity" ? `let v = sum;` : `let v = sum * dact4(z[(min(gi, last) * r + k0) / 4]);`,
        s.writeMid ? `if (gi < n) { dZ[(gi * r + k0) / 4] = v; }` : "",
      ];
  const epi =
    s.epilogue === "add"
      ? `o = o + ${names.epi}[(gi * k2 + j0) / 4];`
      : s.epilogue === "mul"
        ? `o = o * ${names.epi}[(gi * k2 + j0) / 4];`
        : "";
  const helpers = `fn act4(v : vec4<f32>) -> vec4<f32> { return vec4<f32>(act_(v.x), act_(v.y), act_(v.z), act_(v.w)); }
fn dact4(v : vec4<f32>) -> vec4<f32> { return vec4<f32>(dact_(v.x), dact_(v.y), dact_(v.z), dact_(v.w)); }`;
  const rank = s.tail
    ? `  // the rank block, kept in workgroup memory: h = act(x) (a tail link: x is the previous link's y)
  let kg = r / 4;
  for (var idx = tid; idx < ROWS * kg; idx += THREADS) {
    let i0 = idx / kg;
    let k0 = (idx % kg) * 4;
    let gi = row0 + i0;
    let v = act4(${names.inp}[(min(gi, last) * r + k0) / 4]);
    ${s.writeH ? "if (gi < n) { h[(gi * r + k0) / 4] = v; }" : ""}
    rankBlock[(i0 * RT + k0) / 4] = v;
  }
`
    : `  // ${fwd ? "z = x·A" : "dH = dY·Bᵀ"} in micro-tiles of RM rows × 4 rank columns (rows past n read row n-1, store nothing)
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
`;
  return `${rowChainPreamble(s, helpers)}
${rank}  workgroupBarrier();
${
  s.second
    ? `  // ${fwd ? "y = h·B" : "dX = dZ·Aᵀ"} from the rank block, in micro-tiles of RM rows × 4 output columns
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
  }`
    : ""
}
}`;
}

/**
 * One 4-wide step of a product, for every row of the micro-tile: load rows outer..outer+3 of `mat`
 * (each a vec4 at columns inner..inner+3), then fold in that row's 4 inputs `src`, either as an axpy over
 * the 4 rows (the matrix as stored: forward's A and B) or as 4 dot products (the matrix transposed: backward's Bᵀ and Aᵀ).
 */
function step4(p: {
  mat: string;
  load: string;
  outer: string;
  stride: string;
  inner: string;
  src: string;
  v: string;
  form: "axpy" | "dot";
}): string {
  const { load: w, v } = p;
  const loads = [0, 1, 2, 3].map(
    (q) => `let ${w}${q} = ${p.mat}[(${q === 0 ? p.outer : `(${p.outer} + ${q})`} * ${p.stride} + ${p.inner}) / 4];`,
  );
  const update =
    p.form === "axpy"
      ? `part[a] = fma(vec4<f32>(${v}.x), ${w}0, fma(vec4<f32>(${v}.y), ${w}1, fma(vec4<f32>(${v}.z), ${w}2, fma(vec4<f32>(${v}.w), ${w}3, part[a]))));`
      : `part[a] += vec4<f32>(dot(${v}, ${w}0), dot(${v}, ${w}1), dot(${v}, ${w}2), dot(${v}, ${w}3));`;
  return `${loads.join("\n      ")}
      for (var a = 0; a < RM; a++) {
        let ${v} = ${p.src};
        ${update}
      }`;
}
