import type { FusedProgram } from "./program.ts";
import type { ReduceTile } from "./tiling.ts";

/**
 * A reduction over tokens, out = Lᵀ·R (L n×P, R n×Q, out P×Q): the weight gradients of a chain,
 * dA = xᵀ·dZ and dB = hᵀ·dY. Each invocation sums a 4 × 4 block of the output over every token in
 * registers (a 4-row slice of L's row times a 4-column slice of R's, 16 FMAs per 8 loads): no atomics
 * and no split over tokens, so sums are in a fixed order and repeat run to run.
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
    /** P and Q multiples of 4: rows of L and R read as vec4, the output written as vec4. */
    readonly vec4 = false,
  ) {
    this.variableNames = [names[0], names[1]];
    this.outputNames = [names[2]];
    this.workgroupSize = [tile.tx * tile.ty, 1, 1];
    this.shaderKey = ["tokenReduce", names.join(""), `t${tile.tx}x${tile.ty}`, vec4 ? "vec4" : "f32"].join("_");
  }

  /** Output blocks along q (x) and p (y). */
  grid(p: number, q: number): [number, number, number] {
    return [Math.max(1, Math.ceil(q / (4 * this.tile.tx))), Math.max(1, Math.ceil(p / (4 * this.tile.ty))), 1];
  }

  getUserCode(): string {
    const { tx, ty } = this.tile;
    const [L, R, O] = this.names;
    return `
const TX : i32 = ${tx};
const TY : i32 = ${ty};

// ${O} = ${L}ᵀ·${R}, summed over tokens
fn main(tid : i32, grp : i32, wid : vec2<i32>) {
  let n = sizes.n;
  let np = sizes.p;
  let nq = sizes.q;
  let p0 = wid.y * 4 * TY + (tid / TX) * 4;
  let q0 = wid.x * 4 * TX + (tid % TX) * 4;
  // clamped indices: lanes past the edge read valid memory and store nothing
  ${
    this.vec4
      ? ""
      : `let pc = min(vec4<i32>(p0, p0 + 1, p0 + 2, p0 + 3), vec4<i32>(max(np - 1, 0)));
  let qc = min(vec4<i32>(q0, q0 + 1, q0 + 2, q0 + 3), vec4<i32>(max(nq - 1, 0)));`
  }
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  for (var t = 0; t < n; t++) {
    ${
      this.vec4
        ? `let l = ${L}[(t * np + min(p0, np - 4)) / 4];
    let rv = ${R}[(t * nq + min(q0, nq - 4)) / 4];`
        : `let lo = t * np;
    let ro = t * nq;
    let l = vec4<f32>(${L}[lo + pc.x], ${L}[lo + pc.y], ${L}[lo + pc.z], ${L}[lo + pc.w]);
    let rv = vec4<f32>(${R}[ro + qc.x], ${R}[ro + qc.y], ${R}[ro + qc.z], ${R}[ro + qc.w]);`
    }
    s0 = fma(vec4<f32>(l.x), rv, s0);
    s1 = fma(vec4<f32>(l.y), rv, s1);
    s2 = fma(vec4<f32>(l.z), rv, s2);
    s3 = fma(vec4<f32>(l.w), rv, s3);
  }
  var rows = array<vec4<f32>, 4>(s0, s1, s2, s3);
  for (var a = 0; a < 4; a++) {
    let p = p0 + a;
    ${
      this.vec4
        ? `if (p < np && q0 < nq) { ${O}[(p * nq + q0) / 4] = rows[a]; }`
        : `if (p < np) {
      for (var b = 0; b < 4; b++) {
        if (q0 + b < nq) { ${O}[p * nq + q0 + b] = rows[a][b]; }
      }
    }`
    }
  }
}`;
  }
}
