import * as tf from "@tensorflow/tfjs-core";
import { sizes } from "../../../ir/dim.ts";
import type { FusedEqn } from "../../../ir/graph.ts";
import type { RowParams } from "../../../ir/fusedKinds.ts";
import { rowProgram, type RowInstr, type RowProgram } from "../../../passes/rowProgram.ts";
import { fitsBindings, floatLiteral, HELPERS, NAN_BITS, OPS } from "./elementwise.ts";
import { flatGrid, type FusedLaunch, type FusedProgram } from "./program.ts";
import type { FusedRunner } from "./runner.ts";
import type { DeviceLimits } from "./tiling.ts";

type RowNode = FusedEqn & { params: RowParams };

/** Invocations per workgroup; a row gets `lanes` of them (a power of two), so short rows share one. */
const WG = 64;

/** Invocations per row: the row width rounded up to a power of two, at most the workgroup. */
export const rowLanes = (width: number): number => {
  let t = 1;
  while (t < width && t < WG) t *= 2;
  return t;
};

/** The values a step reads (none for constants and the column index). */
const argsOf = (s: RowInstr["step"]): readonly string[] => (s.t === "literal" || s.t === "iota" ? [] : s.args);

/** The WGSL expression of one non-reduction step (ops as the elementwise generator writes them). */
function expr(i: RowInstr): string {
  const s = i.step;
  switch (s.t) {
    case "literal":
      return floatLiteral(s.value);
    case "copy":
      return s.args[0];
    case "iota": // only in programs built with { ints } (native's); here for exhaustiveness
      return "f32(i)";
    case "exp":
      return `exp(keep_(${s.args[0]} - ${s.args[1]}))`;
    case "norm":
      return `(keep_(${s.args[0]} * ${s.args[1]}) * ${s.args[2]})`;
    case "op":
      return OPS[s.prim]!(s.args[0]!, s.args[1] ?? "");
    case "acc":
      throw new Error("a reduction is not an expression");
  }
}

/** A reduction's per-element contribution to its accumulator. */
function accUpdate(i: RowInstr, acc: string): string {
  if (i.step.t !== "acc") throw new Error("not a reduction");
  const [x, m] = i.step.args;
  switch (i.step.kind) {
    case "max":
      return `${acc} = max_(${acc}, ${x});`;
    case "rms":
      return `${acc} = ${acc} + keep_(${x} * ${x});`;
    case "lse":
    case "inv":
      return `${acc} = ${acc} + exp(keep_(${x} - ${m}));`;
    default:
      return `${acc} = ${acc} + ${x};`;
  }
}

/** The row scalar a reduction gives from its combined accumulator `s`. */
function accFinish(i: RowInstr, s: string): string {
  if (i.step.t !== "acc") throw new Error("not a reduction");
  const D = "f32(sizes.width)";
  switch (i.step.kind) {
    case "max":
    case "sum":
      return s;
    case "mean":
      return `${s} / ${D}`;
    case "rms":
      return `1.0 / sqrt(keep_(${s} / ${D}) + ${floatLiteral(i.step.eps ?? 0)})`;
    case "lse":
      return `${i.step.args[1]} + log(${s})`;
    case "inv":
      return `1.0 / ${s}`;
  }
}

/**
 * One row group as one program, from its row program (passes/rowProgram.ts): each row is owned by
 * `lanes` invocations of a 64-invocation workgroup (several rows a workgroup where rows are short).
 * Each stage is one strided sweep over the row: an invocation computes its elements' full values,
 * stores the outputs among them and accumulates the stage's reductions; each invocation then combines
 * its row's partials from workgroup memory in lane order (a tree with a barrier per level gave stale
 * values on Mesa's llvmpipe), so sums are in another order than the unfused kernels'.
 * A full value a later stage reads again is recomputed there from the inputs and the row scalars.
 * Width, rows and row strides are uniforms: nodes with the same body share one pipeline.
 */
export class RowProgramWgsl implements FusedProgram {
  readonly variableNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly uniformNames: readonly string[];
  readonly workgroupSize = [WG, 1, 1] as const;
  readonly shaderKey: string;
  private readonly code: string;

  constructor(
    private readonly p: RowProgram,
    readonly lanes: number,
    title: string,
  ) {
    this.variableNames = p.inputs.map((_, q) => `in${q}`);
    this.outputNames = p.outputs.map((_, k) => `out${k}`);
    this.uniformNames = ["rows", "width", "nanBits", "zero", ...p.inputs.map((_, q) => `rs${q}`)];
    const body = this.body();
    this.code = `// row group ${title}\n${HELPERS}\nvar<workgroup> red_ : array<f32, ${WG}>;\n${body}`;
    this.shaderKey = `row_${lanes}_${p.inputs.map((i) => (i.full ? "f" : "s")).join("")}_${body.replace(/\s*\n\s*/g, " ")}`;
  }

  private body(): string {
    const p = this.p;
    const T = this.lanes;
    const L: string[] = [];
    const line = (s: string, depth = 1) => L.push(`${"  ".repeat(depth)}${s}`);
    const byName = new Map(p.instrs.map((i) => [i.out, i]));
    const inputQ = new Map(p.inputs.map((inp, q) => [inp.name, q]));
    const outIndex = new Map(p.outputs.map((o, k) => [o.name, k]));
    line(`let lane = tid % ${T};`);
    line(`let r = grp * ${WG / T} + tid / ${T};`);
    line(`let valid = r < sizes.rows;`);
    line(`let rc = select(0, r, valid);`);
    line(`let base = tid - lane;`);
    p.inputs.forEach((inp, q) => {
      if (!inp.full) line(`let ${inp.name} = keep_(in${q}[rc * sizes.rs${q}]);`);
    });
    const scalars = (k: number) =>
      p.instrs
        .filter((i) => !i.full && i.step.t !== "acc" && i.stage === k)
        .forEach((i) => line(`let ${i.out} = keep_(${expr(i)});`));
    scalars(0);
    for (let k = 0; k < p.stages; k++) {
      const accs = p.instrs.filter((i) => i.step.t === "acc" && i.stage === k + 1);
      // what this sweep computes: its outputs, its reductions' operands, and the full values they read
      const need = new Set<string>();
      const want = (n: string) => {
        const d = byName.get(n);
        if (d?.full && !need.has(n)) {
          need.add(n);
          argsOf(d.step).forEach(want);
        }
      };
      p.instrs.filter((i) => i.full && i.stage === k && outIndex.has(i.out)).forEach((i) => want(i.out));
      accs.forEach((i) => i.step.t === "acc" && i.step.args.forEach(want));
      const fulls = p.instrs.filter((i) => need.has(i.out));
      if (fulls.length === 0 && accs.length === 0) {
        scalars(k + 1);
        continue;
      }
      const maxInit = `bitcast<f32>(u32(sizes.zero) | 0xff800000u)`;
      accs.forEach((i) => line(`var acc_${i.out} = ${i.step.t === "acc" && i.step.kind === "max" ? maxInit : "0.0"};`));
      line(`for (var i = lane; valid && i < sizes.width; i += ${T}) {`);
      const reads = new Set([...fulls, ...accs].flatMap((i) => argsOf(i.step)));
      for (const a of reads) {
        const q = inputQ.get(a);
        if (q !== undefined && p.inputs[q]!.full) line(`let ${a} = keep_(in${q}[rc * sizes.rs${q} + i]);`, 2);
      }
      for (const i of fulls) {
        line(`let ${i.out} = keep_(${expr(i)});`, 2);
        if (i.stage === k && outIndex.has(i.out)) line(`out${outIndex.get(i.out)}[r * sizes.width + i] = ${i.out};`, 2);
      }
      accs.forEach((i) => line(accUpdate(i, `acc_${i.out}`), 2));
      line(`}`);
      for (const i of accs) {
        const combine = i.step.t === "acc" && i.step.kind === "max" ? "max_(a_, b_)" : "a_ + b_";
        line(`red_[tid] = acc_${i.out};`);
        line(`workgroupBarrier();`);
        line(`var s_${i.out} = red_[base];`);
        line(
          `for (var j = 1; j < ${T}; j++) { let a_ = s_${i.out}; let b_ = red_[base + j]; s_${i.out} = ${combine}; }`,
        );
        line(`let ${i.out} = keep_(${accFinish(i, `s_${i.out}`)});`);
        line(`workgroupBarrier();`);
      }
      scalars(k + 1);
    }
    p.outputs.forEach((o, k) => {
      if (!o.full) line(`if (valid && lane == 0) { out${k}[r] = ${o.name}; }`);
    });
    return `fn main(tid : i32, grp : i32, wid : vec2<i32>) {\n${L.join("\n")}\n}`;
  }

  getUserCode(): string {
    return this.code;
  }
}

/**
 * The row program of a row node as WGSL, or the reason there is none (rowProgram's, an output that is
 * an input passed through, an op WGSL lacks).
 */
export function rowWgsl(node: RowNode): { program: RowProgram; wgsl: RowProgramWgsl } | string {
  const p = rowProgram(node);
  if (typeof p === "string") return p;
  const defined = new Set(p.instrs.map((i) => i.out));
  if (p.outputs.some((o) => !defined.has(o.name))) return "an output is an input passed through";
  if (p.instrs.some((i) => i.step.t === "op" && OPS[i.step.prim] === undefined)) return "an op has no WGSL";
  const title = node.body.eqns.map((e) => e.prim).join(" → ");
  return { program: p, wgsl: new RowProgramWgsl(p, rowLanes(p.width), title) };
}

/** The launch of a row node: its program, one workgroup per 64 / lanes rows, uniforms (rows, width, strides). */
export function rowLaunch(node: RowNode, limits: DeviceLimits): FusedLaunch | string {
  const r = rowWgsl(node);
  if (typeof r === "string") return r;
  const { program: p, wgsl } = r;
  return {
    program: wgsl,
    dispatch: flatGrid(Math.ceil(p.rows / (WG / wgsl.lanes)), limits.maxComputeWorkgroupsPerDimension),
    uniforms: [p.rows, p.width, NAN_BITS, 0, ...p.inputs.map((i) => i.rowStride)],
  };
}

/** The program of a row node: one, or none where it runs by parts (no row program, too many buffers). */
export function rowPrograms(
  node: RowNode,
  limits: DeviceLimits & { maxStorageBuffersPerShaderStage: number },
): FusedProgram[] {
  if (!fitsBindings(node, limits)) return [];
  const l = rowLaunch(node, limits);
  return typeof l === "string" ? [] : [l.program];
}

/** One row node as one dispatch: tensors in (the node's inputs), tensors out (its outputs). */
export function webgpuRow(
  runner: FusedRunner,
  limits: DeviceLimits,
  node: RowNode,
): (inputs: readonly tf.Tensor[]) => tf.Tensor[] {
  const launch = rowLaunch(node, limits);
  if (typeof launch === "string") throw new Error(`webgpu row: ${launch}`);
  return (inputs) => {
    const outs = node.outs.map((v) => runner.output(sizes(v.abs.dims)));
    runner.run(launch, inputs, outs);
    return outs;
  };
}
