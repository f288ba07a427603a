import * as tf from "@tensorflow/tfjs-core";
import { sizes } from "../../../ir/dim.ts";
import type { FusedEqn, Var } from "../../../ir/graph.ts";
import type { Prim } from "../../../ir/prims.ts";
import { flatGrid, type FusedLaunch, type FusedProgram } from "./program.ts";
import type { FusedRunner } from "./runner.ts";
import type { DeviceLimits } from "./tiling.ts";

/**
 * WGSL for one op on f32 values a (and b), in the forms tfjs-backend-webgpu's unary and binary
 * kernels use (unary_op_util.js, binary_op_util.js), composed the way backends/tfjs/kernels.ts composes
 * them (silu = x·sigmoid(x), gelu from tanh and pow(x, 3), ...), so a fused group computes what its
 * parts compute, op for op; only the GPU compiler's freedom inside one shader can differ.
 */
export const OPS: Partial<Record<Prim, (a: string, b: string) => string>> = {
  neg: (a) => `-${a}`,
  exp: (a) => `exp(${a})`,
  log: (a) => `log_(${a})`,
  sqrt: (a) => `sqrt(${a})`,
  tanh: (a) => `tanh_(${a})`,
  sigmoid: (a) => `sigmoid_(${a})`,
  silu: (a) => `(${a} * sigmoid_(${a}))`,
  gelu: (a) => `gelu_(${a})`,
  relu: (a) => `select(${a}, 0.0, ${a} < 0.0)`,
  dsilu: (a) => `dsilu_(${a})`,
  dgelu: (a) => `dgelu_(${a})`,
  drelu: (a) => `step_(${a})`,
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  maximum: (a, b) => `max_(${a}, ${b})`,
  equal: (a, b) => `select(0.0, 1.0, ${a} == ${b})`,
  broadcast: (a) => a,
};

/**
 * Helpers the ops call (NaN from a uniform: WGSL has no NaN constant, and tfjs also passes it in).
 * `keep_` ORs in a uniform that is always 0: every loaded and computed value goes through it, so the
 * shader compiler can neither fold across ops (x - x as 0, then y / 0 as 0 where tfjs's separate
 * kernels give ±inf) nor contract a product with the next sum: each op rounds as its own kernel does.
 */
export const HELPERS = `
fn keep_(x : f32) -> f32 { return bitcast<f32>(bitcast<i32>(x) | sizes.zero); }
fn nan_() -> f32 { return bitcast<f32>(sizes.nanBits); }
fn isnan_(x : f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn log_(a : f32) -> f32 { if (a < 0.0) { return nan_(); } return log(a); }
fn tanh_(a : f32) -> f32 { let e2x = exp(-2.0 * abs(a)); return sign(a) * (1.0 - e2x) / (1.0 + e2x); }
fn sigmoid_(a : f32) -> f32 { return 1.0 / (1.0 + exp(-1.0 * a)); }
fn pow3_(a : f32) -> f32 { if (isnan_(a)) { return nan_(); } return sign(a) * pow(abs(a), 3.0); }
fn geluT_(x : f32) -> f32 { return tanh_((x + pow3_(x) * 0.044715) * 0.7978845608028654); }
fn gelu_(x : f32) -> f32 { return (x * 0.5) * (geluT_(x) + 1.0); }
fn dsilu_(x : f32) -> f32 { let s = sigmoid_(x); return s * (x * (1.0 - s) + 1.0); }
fn dgelu_(x : f32) -> f32 {
  let t = geluT_(x);
  let du = ((x * x) * (3.0 * 0.044715) + 1.0) * 0.7978845608028654;
  return (t + 1.0) * 0.5 + ((x * 0.5) * (1.0 - t * t)) * du;
}
fn step_(a : f32) -> f32 { if (isnan_(a)) { return a; } return select(0.0, 1.0, a > 0.0); }
fn max_(a : f32, b : f32) -> f32 { if (isnan_(a) || isnan_(b)) { return nan_(); } return max(a, b); }`;

/** Can every equation of this body be written in WGSL? */
export const canEmitWgsl = (node: FusedEqn): boolean =>
  node.body.eqns.every((e) => e.prim === "literal" || OPS[e.prim] !== undefined);

/** A float32 constant, rounded as tf.fill rounds it; NaN and infinities built from the NaN uniform at run time. */
export function floatLiteral(value: number): string {
  const f = Math.fround(value);
  if (Number.isNaN(f)) return "nan_()";
  if (!Number.isFinite(f)) return `${f > 0 ? "" : "-"}bitcast<f32>((sizes.nanBits & 0) | 0x7f800000)`;
  return `f32(${f.toPrecision(9)})`;
}

/**
 * One fused elementwise node as one program: an invocation per output element (64 a workgroup, the
 * grid folded by flatGrid), which finds each input's element through its broadcast strides, computes
 * the body op by op, and stores every output. Shapes and strides are uniforms, so the key is only
 * the body, the rank and the input count: nodes with the same body share one pipeline.
 */
export class ElementwiseProgram implements FusedProgram {
  readonly variableNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly uniformNames: readonly string[];
  readonly workgroupSize = [64, 1, 1] as const;
  readonly shaderKey: string;

  constructor(
    private readonly node: FusedEqn,
    private readonly rank: number,
  ) {
    const K = node.inputs.length;
    this.variableNames = node.inputs.map((_, q) => `in${q}`);
    this.outputNames = node.outs.map((_, k) => `out${k}`);
    const dims = Array.from({ length: rank }, (_, j) => `d${j}`);
    const strides = node.inputs.flatMap((_, q) => dims.map((_, j) => `s${q}_${j}`));
    this.uniformNames = ["n", "nanBits", "zero", ...dims, ...strides];
    this.shaderKey = `elementwise_${K}_${rank}_${this.body().join(";")}`;
  }

  /** The body as WGSL statements, one `let` per equation. */
  private body(): string[] {
    const name = new Map<Var, string>();
    const lines: string[] = [];
    this.node.inputs.forEach((v, q) => name.set(v, `a${q}`));
    this.node.body.eqns.forEach((e, j) => {
      const t = `t${j}`;
      if (e.prim === "literal") lines.push(`let ${t} = ${floatLiteral((e.params as { value: number }).value)};`);
      else {
        const [a, b] = e.inputs.map((v) => name.get(v)!);
        lines.push(`let ${t} = keep_(${OPS[e.prim]!(a!, b ?? "")});`);
      }
      name.set(e.out, t);
    });
    this.node.outs.forEach((v, k) => lines.push(`out${k}[i] = ${name.get(v)};`));
    return lines;
  }

  getUserCode(): string {
    const K = this.node.inputs.length;
    const offs = Array.from({ length: K }, (_, q) => `  var o${q} = 0;`);
    const walk: string[] = [];
    for (let j = this.rank - 1; j >= 0; j--) {
      walk.push(`  let c${j} = rem % sizes.d${j};`, `  rem = rem / sizes.d${j};`);
      for (let q = 0; q < K; q++) walk.push(`  o${q} += c${j} * sizes.s${q}_${j};`);
    }
    const loads = this.node.inputs.map((_, q) => `  let a${q} = keep_(in${q}[o${q}]);`);
    return `${HELPERS}
fn main(tid : i32, grp : i32, wid : vec2<i32>) {
  let i = grp * 64 + tid;
  if (i >= sizes.n) { return; }
  var rem = i;
${[...offs, ...walk, ...loads].join("\n")}
${this.body()
  .map((l) => `  ${l}`)
  .join("\n")}
}`;
  }
}

/** Strides of an input of shape `inShape` read at every index of `outShape` (numpy broadcasting, aligned right). */
function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const lead = outShape.length - inShape.length;
  const strides = outShape.map(() => 0);
  let s = 1;
  for (let j = inShape.length - 1; j >= 0; j--) {
    strides[j + lead] = inShape[j] === 1 ? 0 : s;
    s *= inShape[j]!;
  }
  return strides;
}

/** The bits of the NaN the programs build at run time (the `nanBits` uniform). */
export const NAN_BITS = 0x7fc00000;

/** The launch of a fused elementwise node: its program, grid and uniforms (shape, strides). */
export function elementwiseLaunch(node: FusedEqn, limits: DeviceLimits): FusedLaunch {
  const shape = sizes(node.out.abs.dims);
  const program = new ElementwiseProgram(node, shape.length);
  const n = shape.reduce((p, q) => p * q, 1);
  const strides = node.inputs.flatMap((v) => broadcastStrides(sizes(v.abs.dims), shape));
  return {
    program,
    dispatch: flatGrid(Math.ceil(n / 64), limits.maxComputeWorkgroupsPerDimension),
    uniforms: [n, NAN_BITS, 0, ...shape, ...strides],
  };
}

/** Does one program fit this device's storage-buffer bindings (inputs and outputs)? */
export const fitsBindings = (node: FusedEqn, limits: { maxStorageBuffersPerShaderStage: number }): boolean =>
  node.inputs.length + node.outs.length <= limits.maxStorageBuffersPerShaderStage;

/** The program of a fused elementwise node: one, or none where it runs op by op (canEmitWgsl, fitsBindings). */
export const elementwisePrograms = (
  node: FusedEqn,
  limits: DeviceLimits & { maxStorageBuffersPerShaderStage: number },
): FusedProgram[] => (canEmitWgsl(node) && fitsBindings(node, limits) ? [elementwiseLaunch(node, limits).program] : []);

/** One fused elementwise node as one dispatch: tensors in (the node's inputs), tensors out (its outputs). */
export function webgpuElementwise(
  runner: FusedRunner,
  limits: DeviceLimits,
  node: FusedEqn,
): (inputs: readonly tf.Tensor[]) => tf.Tensor[] {
  const launch = elementwiseLaunch(node, limits);
  return (inputs) => {
    const outs = node.outs.map((v) => runner.output(sizes(v.abs.dims)));
    runner.run(launch, inputs, outs);
    return outs;
  };
}
