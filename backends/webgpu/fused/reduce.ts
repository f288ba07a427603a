import type { FusedProgram } from "./program.ts";
import type { ReduceTile } from "./tiling.ts";

/**
 * A reduction over tokens, out = Lᵀ·R (L n×P, R n×Q, out P×Q): the weight gradients of a chain,
 * dA = xᵀ·dZ and dB = hᵀ·dY. Each workgroup owns a (2·ty) × (2·tx) block of the output and walks the
 * tokens in staged slices, each invocation summing a 2 × 2 block in registers: no atomics, so sums are
 * in a fixed order and repeat run to run.
 */
export class TokenReduceProgram implements FusedProgram {
  readonly variableNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly uniformNames = ["n", "p", "q"] as const;
  readonly workgroupSize: readonly [number, number, number];
  readonly shaderKey: string;

  /** `names`: [left, right, out] buffer names, e.g. ["x", "dZ", "dA"]. */
  constructor(
    readonly names: readonly [string, string, string],
    readonly tile: ReduceTile,
  ) {
    this.variableNames = [names[0], names[1]];
    this.outputNames = [names[2]];
    this.workgroupSize = [tile.tx * tile.ty, 1, 1];
    this.shaderKey = ["tokenReduce", names.join(""), `t${tile.tx}x${tile.ty}x${tile.depth}`, "f32"].join("_");
  }

  /** Output blocks along q (x) and p (y). */
  grid(p: number, q: number): [number, number, number] {
    return [Math.max(1, Math.ceil(q / (2 * this.tile.tx))), Math.max(1, Math.ceil(p / (2 * this.tile.ty))), 1];
  }

  getUserCode(): string {
    const { tx, ty, depth } = this.tile;
    const [L, R, O] = this.names;
    return `
const TX : i32 = ${tx};
const TY : i32 = ${ty};
const DEPTH : i32 = ${depth};
const TP : i32 = ${2 * ty};
const TQ : i32 = ${2 * tx};
var<workgroup> lTile : array<f32, ${depth * 2 * ty}>;
var<workgroup> rTile : array<f32, ${depth * 2 * tx}>;

// ${O} = ${L}ᵀ·${R}, summed over tokens
fn main(tid : i32, grp : i32, wid : vec2<i32>) {
  let n = sizes.n;
  let np = sizes.p;
  let nq = sizes.q;
  let p0 = wid.y * TP;
  let q0 = wid.x * TQ;
  let lx = tid % TX;
  let ly = tid / TX;
  var s00 = 0.0;
  var s01 = 0.0;
  var s10 = 0.0;
  var s11 = 0.0;
  for (var t0 = 0; t0 < n; t0 += DEPTH) {
    for (var u = tid; u < DEPTH * TP; u += TX * TY) {
      let t = t0 + u / TP;
      let pi = p0 + u % TP;
      var v = 0.0;
      if (t < n && pi < np) { v = ${L}[t * np + pi]; }
      lTile[u] = v;
    }
    for (var u = tid; u < DEPTH * TQ; u += TX * TY) {
      let t = t0 + u / TQ;
      let qi = q0 + u % TQ;
      var v = 0.0;
      if (t < n && qi < nq) { v = ${R}[t * nq + qi]; }
      rTile[u] = v;
    }
    workgroupBarrier();
    let tm = min(DEPTH, n - t0);
    for (var tt = 0; tt < tm; tt++) {
      let a0 = lTile[tt * TP + 2 * ly];
      let a1 = lTile[tt * TP + 2 * ly + 1];
      let b0 = rTile[tt * TQ + 2 * lx];
      let b1 = rTile[tt * TQ + 2 * lx + 1];
      s00 += a0 * b0;
      s01 += a0 * b1;
      s10 += a1 * b0;
      s11 += a1 * b1;
    }
    workgroupBarrier();
  }
  let pa = p0 + 2 * ly;
  let qa = q0 + 2 * lx;
  if (pa < np && qa < nq) { ${O}[pa * nq + qa] = s00; }
  if (pa < np && qa + 1 < nq) { ${O}[pa * nq + qa + 1] = s01; }
  if (pa + 1 < np && qa < nq) { ${O}[(pa + 1) * nq + qa] = s10; }
  if (pa + 1 < np && qa + 1 < nq) { ${O}[(pa + 1) * nq + qa + 1] = s11; }
}`;
  }
}
