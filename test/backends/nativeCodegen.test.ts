import { describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { mkdtempSync, readdirSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import { compile } from "../../run/compile.ts";
import { codegenStats } from "../../backends/native/codegen/elementwise.ts";
import { kernelLibrary } from "../../backends/native/codegen/compile.ts";
import { cachedLibraryProblem } from "../../backends/native/build.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { chainsOnly, fusedNodes, nativeOrSkip, withoutRows } from "../passes/targets.ts";
import type { FusedEqn } from "../../ir/graph.ts";
import { elementwiseCases, elementwiseProgram } from "../passes/elementwiseCases.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";
import { restoreCodegenEnv, runOn, wavy } from "../helpers/codegenFixture.ts";

// elementwise groups alone: row groups reduce in another order (test/backends/nativeRow.test.ts)
const whole = await nativeOrSkip({ elementwise: true });
const native = whole && withoutRows(whole);
const EXACT = { rtol: 0, atol: 0, equalNan: true };

const [n, d] = [dim("n", 37), dim("d", 53)];
const args = [spec([n, d]), spec([d]), spec([n, d])] as const;
const f = (x: any, y: any, z: any) => op.silu(op.add(op.mul(x, y), z));
const inputs = [wavy(37 * 53, 1), wavy(53, 2), wavy(37 * 53, 3)] as const;

restoreCodegenEnv();

const run = runOn(f, args, inputs);

describe.skipIf(!native)("generated elementwise kernels on native", () => {
  it("x*y+z then silu is one generated kernel, bit-identical to the prebuilt kernels op by op", async () => {
    const compiled = unwrap(compile(f, { args, backend: native! }));
    expect(compiled.plan.kernelCount).toBe(1);
    const before = { ...codegenStats };
    const fused = await run(native!);
    expect(codegenStats.failed).toBe(before.failed);
    const plain = await run(chainsOnly(native!));
    expect(unwrap(compile(f, { args, backend: chainsOnly(native!) })).plan.kernelCount).toBe(3);
    expect(Array.from(fused)).toEqual(Array.from(plain));
  });

  it("shows the generated source (what RANKFUSE_DEBUG=4 prints)", () => {
    const node = fusedNodes(unwrap(compile(f, { args, backend: native! })).graph)[0]!;
    const source = (native as unknown as { kernelSource(n: FusedEqn): string | undefined }).kernelSource(node)!;
    expect(source).toContain('#include "codegen.h"');
    expect(source).toContain("vm::silu(");
    expect(source.match(/gen::ld\(/g)).toHaveLength(3);
  });

  it("fused ≡ unfused over random elementwise graphs, outputs and gradients bit for bit", async () => {
    // random bodies are new kernels every run: compile them into a folder of their own, removed after
    const dir = mkdtempSync(path.join(tmpdir(), "rankfuse-kernels-"));
    process.env.RANKFUSE_NATIVE_CACHE = dir;
    const before = codegenStats.compiled + codegenStats.fromDisk + codegenStats.fromMemory;
    await fc.assert(
      fc.asyncProperty(elementwiseCases, async (c) => {
        const { fn, args: a, inputs: x } = elementwiseProgram(c);
        await fusedMatchesUnfused(fn, a, { backend: native!, requireFused: false, tolerance: EXACT })(x);
      }),
      { numRuns: runs(20) },
    );
    expect(codegenStats.compiled + codegenStats.fromDisk + codegenStats.fromMemory).toBeGreaterThan(before);
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it("a tiny training step gives the same loss and gradients with and without elementwise kernels", async () => {
    for (const method of ["full", "cola"]) {
      const fused = await tinyTrainStep(method, native!);
      const plain = await tinyTrainStep(method, chainsOnly(native!));
      expect(fused.kernels).toBeLessThan(plain.kernels);
      expect(fused.loss).toBe(plain.loss);
      expect(fused.grads.map((g) => Array.from(g))).toEqual(plain.grads.map((g) => Array.from(g)));
    }
  }, 300_000);

  it("compiles each kernel once: a second compile of the same source is a cache hit", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "rankfuse-kernels-"));
    try {
      process.env.RANKFUSE_NATIVE_CACHE = dir;
      const source = `// cache test ${dir}\nextern "C" void rankfuse_elementwise(const float* const*, float* const*, const long*) {}\n`;
      const built = () => {
        const lib = kernelLibrary(source);
        if (E.isLeft(lib)) throw new Error(lib.left);
        return lib.right;
      };
      const first = built();
      const second = built();
      expect([first.fromCache, second.fromCache]).toEqual([false, true]);
      expect(second.path).toBe(first.path);
      expect(readdirSync(path.join(dir, "kernels")).filter((f) => f.endsWith(".so"))).toHaveLength(1);
      // a truncated library in the cache is compiled again, not loaded
      truncateSync(first.path, 100);
      const third = built();
      expect(third.fromCache).toBe(false);
      expect(cachedLibraryProblem(third.path)).toBeNull();
      expect(built().fromCache).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("without a compiler the groups run by parts, with the same results", async () => {
    const expected = await run(chainsOnly(native!));
    process.env.RANKFUSE_CODEGEN_CXX = "/nonexistent/c++";
    const before = codegenStats.failed;
    const got = await run(native!);
    expect(codegenStats.failed).toBe(before + 1);
    expect(Array.from(got)).toEqual(Array.from(expected));
  });
});
