import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { compile } from "../../run/compile.ts";
import { codegenStats } from "../../backends/native/codegen/elementwise.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { chainsOnly, fusedNodes, nativeOrSkip, withoutRows } from "../passes/targets.ts";
import type { FusedEqn } from "../../ir/graph.ts";
import { rowCases, rowProgramCase } from "../passes/rowCases.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { restoreCodegenEnv, runOn, wavy } from "../helpers/codegenFixture.ts";

const native = await nativeOrSkip({ elementwise: true, rows: true });
/**
 * A row kernel sums and takes maxima in another order than the prebuilt kernels (16 lanes, then the
 * lanes), so it agrees with the unfused graph to float32 rounding of a sum, not bit for bit.
 */
const F32 = { rtol: 1e-4, atol: 1e-5 };

const [n, d] = [dim("n", 37), dim("d", 53)];
const args = [spec([n, d]), spec([n, d]), spec([d])] as const;
const f = (x: Tensor, y: Tensor, w: Tensor) => {
  const h = op.add(x as Tensor<any>, y as Tensor<any>);
  return op.mul(op.softmax(op.rmsnorm(h, w) as Tensor<any>), h);
};
const inputs = [wavy(37 * 53, 1), wavy(37 * 53, 2), wavy(53, 3)] as const;

restoreCodegenEnv();
const run = runOn(f, args, inputs);
const close = (a: Float32Array, b: Float32Array) =>
  a.every((x, i) => Math.abs(x - b[i]!) <= F32.atol + F32.rtol * Math.abs(b[i]!));

describe.skipIf(!native)("generated row kernels on native", () => {
  it("add, rmsnorm, softmax and a product are one generated kernel, close to the unfused kernels", async () => {
    expect(unwrap(compile(f, { args, backend: native! })).plan.kernelCount).toBe(1);
    expect(unwrap(compile(f, { args, backend: withoutRows(native!) })).plan.kernelCount).toBe(4);
    const before = { ...codegenStats };
    const fused = await run(native!);
    expect(codegenStats.failed).toBe(before.failed);
    expect(close(fused, await run(chainsOnly(native!)))).toBe(true);
  });

  it("shows the generated source (what RANKFUSE_DEBUG=4 prints)", () => {
    const node = fusedNodes(unwrap(compile(f, { args, backend: native! })).graph)[0]!;
    const source = (native as unknown as { kernelSource(n: FusedEqn): string | undefined }).kernelSource(node)!;
    expect(source).toContain("row group add → rmsnorm → softmax → mul");
    expect(source).toContain("constexpr int64_t D = 53;");
    expect(source).toContain("#pragma omp for");
    // sweeps: x² for rmsnorm, the max, the sum of exponentials, the output
    expect(source.match(/for \(int64_t i = 0; i < D;/g)).toHaveLength(4);
  });

  it("fused ≡ unfused over random row graphs, outputs and gradients within float32 rounding", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "rankfuse-kernels-"));
    process.env.RANKFUSE_NATIVE_CACHE = dir;
    const before = codegenStats.compiled + codegenStats.fromDisk + codegenStats.fromMemory;
    const failed = codegenStats.failed;
    await fc.assert(
      fc.asyncProperty(rowCases, async (c) => {
        const { fn, args: a, inputs: x } = rowProgramCase(c);
        await fusedMatchesUnfused(fn, a, { backend: native!, requireFused: false, tolerance: F32 })(x);
      }),
      { numRuns: runs(12) },
    );
    expect(codegenStats.compiled + codegenStats.fromDisk + codegenStats.fromMemory).toBeGreaterThan(before);
    expect(codegenStats.failed).toBe(failed);
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it("a tiny training step gives the same loss and gradients (to float32 rounding) with and without row kernels", async () => {
    for (const method of ["full", "cola"]) {
      const fused = await tinyTrainStep(method, native!);
      const plain = await tinyTrainStep(method, withoutRows(native!));
      expect(fused.kernels).toBeLessThan(plain.kernels);
      expect(Math.abs(fused.loss - plain.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(plain.loss));
      fused.grads.forEach((g, k) => expect(close(g, plain.grads[k]!)).toBe(true));
    }
  }, 300_000);

  // 53 rows of width 53: a column sum's [D] has the shape of the rows' scalars, and must still be one
  it.each([37, 53, 300])(
    "an rmsnorm's weight gradient (a column sum over %i rows) is in the row kernel, deterministic and close to unfused",
    async (rows) => {
      const [r, c] = [dim("r", rows), dim("c", 53)];
      const a = [spec([r, c]), spec([r, c]), spec([c])] as const;
      const g = (x: Tensor, dy: Tensor, w: Tensor) => {
        const y = op.rmsnorm(x as Tensor<any>, w);
        return [op.sum(op.mul(dy as Tensor<any>, y), [0]), op.mean(op.softmax(y), [0]), y];
      };
      const x = [wavy(rows * 53, 4), wavy(rows * 53, 5), wavy(53, 6)] as const;
      const exe = unwrap(compile(g, { args: a, backend: native! }));
      expect(exe.plan.kernelCount).toBe(1);
      const go = async (e: typeof exe) =>
        (
          unwrap(await e.run(...(x as unknown as [Float32Array, Float32Array, Float32Array]))).out as Float32Array[]
        ).map((o) => Array.from(o));
      const [one, two] = [await go(exe), await go(exe)];
      // the same kernel twice: bit for bit the same (a fixed partition of rows, the blocks summed in order)
      expect(two).toEqual(one);
      const plain = await go(unwrap(compile(g, { args: a, backend: chainsOnly(native!) })));
      one.forEach((o, k) => expect(close(Float32Array.from(o), Float32Array.from(plain[k]!))).toBe(true));
    },
  );

  it("without a compiler the row groups run by parts, with the unfused kernels' results", async () => {
    const expected = await run(chainsOnly(native!));
    process.env.RANKFUSE_CODEGEN_CXX = "/nonexistent/c++";
    const before = codegenStats.failed;
    const got = await run(native!);
    expect(codegenStats.failed).toBe(before + 1);
    expect(Array.from(got)).toEqual(Array.from(expected));
  });
});
