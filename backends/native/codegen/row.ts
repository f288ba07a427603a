import * as E from "fp-ts/lib/Either.js";
import { numel } from "../../../ir/dim.ts";
import type { FusedEqn } from "../../../ir/graph.ts";
import type { RowParams } from "../../../ir/fusedKinds.ts";
import { rowProgram, type RowInstr, type RowProgram } from "../../../passes/rowProgram.ts";
import type { NativeCtx, NBuf } from "../kernels.ts";
import { loadGenerated } from "./elementwise.ts";
import { floatLiteral, KERNEL_SYMBOL, OPS } from "./emit.ts";

type RowNode = FusedEqn & { params: RowParams };

// Reductions over the first n lanes of a vector (the rest padded), and their horizontal finish.
const HELPERS = `namespace {
constexpr int64_t kColumnBlocks = 64;
inline vf padded(vf v, int64_t n, float p) {
  if (n == gen::kLanes) return v;
  for (int64_t l = n; l < gen::kLanes; ++l) v[l] = p;
  return v;
}
inline vf iota(int64_t i) {
  vf v;
  for (int l = 0; l < gen::kLanes; ++l) v[l] = static_cast<float>(i + l);
  return v;
}
inline float hsum(vf v) {
  float s = 0.0f;
  for (int l = 0; l < gen::kLanes; ++l) s += v[l];
  return s;
}
inline float hmax(vf v) {
  float m = v[0];
  for (int l = 1; l < gen::kLanes; ++l) m = m != m ? m : (v[l] > m || v[l] != v[l] ? v[l] : m);
  return m;
}
}  // namespace`;

const accInit = (i: RowInstr) => (i.step.t === "acc" && i.step.kind === "max" ? "-__builtin_inff()" : "0.0f");

/** The per-chunk update of a reduction's accumulator. */
function accUpdate(i: RowInstr, acc: string): string {
  if (i.step.t !== "acc") throw new Error("not a reduction");
  const [x, m] = i.step.args;
  switch (i.step.kind) {
    case "max":
      return `${acc} = gen::maximum(${acc}, padded(${x}, n, -__builtin_inff()));`;
    case "rms":
      return `${acc} += padded(gen::keep(${x} * ${x}), n, 0.0f);`;
    case "lse":
    case "inv":
      return `${acc} += padded(vm::exp(${x} - ${m}), n, 0.0f);`;
    default:
      return `${acc} += padded(${x}, n, 0.0f);`;
  }
}

/** The scalar a finished reduction gives (splat over the lanes). */
function accFinish(i: RowInstr, acc: string, D: number): string {
  if (i.step.t !== "acc") throw new Error("not a reduction");
  const width = `static_cast<float>(${D})`;
  switch (i.step.kind) {
    case "max":
      return `vm::splat(hmax(${acc}))`;
    case "sum":
      return `vm::splat(hsum(${acc}))`;
    case "mean":
      return `vm::splat(hsum(${acc}) / ${width})`;
    case "rms":
      return `vm::splat(1.0f / std::sqrt(hsum(${acc}) / ${width} + ${floatLiteral(i.step.eps ?? 0)}))`;
    case "lse":
      return `vm::splat(${i.step.args[1]}[0] + std::log(hsum(${acc})))`;
    case "inv":
      return `vm::splat(1.0f / hsum(${acc}))`;
  }
}

/** The C++ expression of one non-reduction step. */
function expr(i: RowInstr): string {
  const s = i.step;
  switch (s.t) {
    case "literal":
      return `vm::splat(${floatLiteral(s.value)})`;
    case "iota":
      return `iota(i)`;
    case "copy":
      return s.args[0];
    case "exp":
      return `vm::exp(${s.args[0]} - ${s.args[1]})`;
    case "norm":
      return `gen::keep(${s.args[0]} * ${s.args[1]}) * ${s.args[2]}`;
    case "op":
      return OPS[s.prim]!(s.args[0]!, s.args[1] ?? "");
    case "acc":
      throw new Error("a reduction is not an expression");
  }
}

/**
 * The C++ of a row program: an `extern "C"` loop over rows (OpenMP over rows where the group is large),
 * each row swept once per stage in 16-lane chunks: a stage computes its full values, stores those a
 * later stage or the caller reads, and accumulates its reductions, finished after the sweep into row
 * scalars; scalar steps run between sweeps. Row width D is part of the source; rows and each input's
 * row stride come in meta ([2, rows, 1, then per input: row stride, 0]).
 */
export function emitRow(p: RowProgram, title: string): string {
  const D = p.width;
  const columns = p.columns ?? [];
  const outIndex = new Map(p.outputs.map((o, k) => [o.name, k]));
  const scratch = [...p.stored].filter((n) => !outIndex.has(n));
  const where = (n: string) =>
    outIndex.has(n) ? `out[${outIndex.get(n)}] + r * D` : `scr + ${scratch.indexOf(n)} * D`;
  const L: string[] = [];
  const line = (depth: number, s: string) => L.push(`${"  ".repeat(depth)}${s}`);
  p.inputs.forEach((inp, q) =>
    line(
      3,
      inp.full
        ? `const float* p${q} = in[${q}] + r * meta[${3 + 2 * q}];`
        : inp.int
          ? `const vf ${inp.name} = vm::splat(static_cast<float>(reinterpret_cast<const int32_t*>(in[${q}])[r * meta[${3 + 2 * q}]]));`
          : `const vf ${inp.name} = vm::splat(in[${q}][r * meta[${3 + 2 * q}]]);`,
    ),
  );
  const fullInputs = new Map(
    p.inputs.map((inp, q) => [inp.name, q] as const).filter(([n]) => p.inputs.find((i) => i.name === n)!.full),
  );
  const scalarsReady = (k: number) =>
    p.instrs
      .filter((i) => !i.full && i.step.t !== "acc" && i.stage === k)
      .forEach((i) => line(3, `const vf ${i.out} = gen::keep(${expr(i)});`));
  scalarsReady(0);
  for (let k = 0; k < p.stages; k++) {
    const fulls = p.instrs.filter((i) => i.full && i.stage === k);
    const accs = p.instrs.filter((i) => i.step.t === "acc" && i.stage === k + 1);
    const cols = columns.filter((c) => c.stage === k);
    if (fulls.length === 0 && accs.length === 0 && cols.length === 0) {
      scalarsReady(k + 1);
      continue;
    }
    accs.forEach((i) => line(3, `vf acc_${i.out} = vm::splat(${accInit(i)});`));
    line(3, `for (int64_t i = 0; i < D; i += gen::kLanes) {`);
    line(4, `const int64_t n = std::min<int64_t>(gen::kLanes, D - i);`);
    // the full values this sweep reads from inputs or from earlier sweeps
    const reads = new Set([
      ...[...fulls, ...accs].flatMap((i) => (i.step.t === "literal" || i.step.t === "iota" ? [] : i.step.args)),
      ...cols.map((c) => c.arg),
    ]);
    for (const a of reads) {
      if (fullInputs.has(a)) line(4, `const vf ${a} = gen::ld(p${fullInputs.get(a)} + i, 1, n);`);
      else {
        const d = p.instrs.find((i) => i.out === a);
        if (d?.full && d.stage < k) line(4, `const vf ${a} = gen::ld(${where(a)} + i, 1, n);`);
      }
    }
    for (const i of fulls) {
      line(4, `const vf ${i.out} = gen::keep(${expr(i)});`);
      if (p.stored.has(i.out) || outIndex.has(i.out)) line(4, `gen::st(${where(i.out)} + i, ${i.out}, n);`);
    }
    accs.forEach((i) => line(4, accUpdate(i, `acc_${i.out}`)));
    for (const c of cols) {
      const at = `col + ${columns.indexOf(c)} * D + i`;
      line(4, `gen::st(${at}, gen::ld(${at}, 1, n) + ${c.arg}, n);`);
    }
    line(3, `}`);
    accs.forEach((i) => line(3, `const vf ${i.out} = ${accFinish(i, `acc_${i.out}`, D)};`));
    scalarsReady(k + 1);
  }
  p.outputs.forEach((o, k) => {
    if (!o.full && !o.column) line(3, `out[${k}][r] = ${o.name}[0];`);
  });
  const finish = columns.map((c) => {
    const k = p.outputs.findIndex((o) => o.name === c.out);
    const s = `s`;
    return `  for (int64_t i = 0; i < D; ++i) {
    float ${s} = 0.0f;
    for (int64_t b = 0; b < blocks; ++b) ${s} += part[(b * ${columns.length} + ${columns.indexOf(c)}) * D + i];
    out[${k}][i] = ${c.kind === "mean" ? `${s} / static_cast<float>(rows)` : s};
  }`;
  });
  return `// generated by rankfuse: row group ${title}
#include <vector>
#include "codegen.h"
using namespace rankfuse;
using gen::vf;

${HELPERS}

extern "C" void ${KERNEL_SYMBOL}(const float* const* in, float* const* out, const int64_t* meta) {
  (void)in;
  constexpr int64_t D = ${D};
  const int64_t rows = meta[1];
  // rows in fixed blocks; column reductions sum each block's rows in order, then the blocks in order
  const int64_t blocks = ${columns.length ? "std::min<int64_t>(rows, kColumnBlocks)" : "rows"};
  std::vector<float> part(${columns.length ? `blocks * ${columns.length} * D` : "0"}, 0.0f);
#pragma omp parallel if (rows * D > kParallelElems)
  {
    std::vector<float> scratch(${Math.max(scratch.length, 1)} * D);
    float* scr = scratch.data();
    (void)scr;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      float* col = part.data() + b * ${columns.length} * D;
      (void)col;
      for (int64_t r = b * rows / blocks; r < (b + 1) * rows / blocks; ++r) {
${L.join("\n")}
      }
    }
  }
${finish.join("\n")}
}
`;
}

/** The generated C++ of a row node (what RANKFUSE_DEBUG=4 prints), if it has one. */
export function rowSource(node: RowNode): string | undefined {
  const p = rowProgram(node, { columns: true, ints: true });
  return typeof p === "string" ? undefined : emitRow(p, node.body.eqns.map((e) => e.prim).join(" → "));
}

/**
 * One generated kernel for a row node, or the reason there is none (no compiler, a failed compile, an
 * input read in a way the kernel cannot): the caller then runs the node by its parts.
 */
export function nativeRow(ctx: NativeCtx, node: RowNode): E.Either<string, (inputs: readonly NBuf[]) => NBuf[]> {
  const p = rowProgram(node, { columns: true, ints: true });
  if (typeof p === "string") return E.left(p);
  const kernel = loadGenerated(ctx.addon, emitRow(p, node.body.eqns.map((e) => e.prim).join(" → ")));
  if (E.isLeft(kernel)) return kernel;
  // the addon checks meta as [rank, shape, strides per input]: rows x 1, each input at its row stride
  const meta = Int32Array.from([2, p.rows, 1, ...p.inputs.flatMap((i) => [i.rowStride, 0])]);
  return E.right((inputs) => {
    const outs = node.outs.map((v) => ctx.pool.f32(numel(v.abs.dims)));
    const lengths = p.columns
      ? Int32Array.from(p.outputs, (o) => (o.column ? p.width : o.full ? p.rows * p.width : p.rows))
      : undefined;
    ctx.addon.runKernel(kernel.right, inputs as Float32Array[], outs, meta, lengths);
    return outs;
  });
}
