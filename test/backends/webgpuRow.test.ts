import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { compile } from "../../run/compile.ts";
import type { FusedEqn } from "../../ir/graph.ts";
import { ROW, type RowParams } from "../../ir/fusedKinds.ts";
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { rowLaunch, rowPrograms } from "../../backends/webgpu/fused/row.ts";
import { fusedMatchesUnfused, matchesReference } from "../../testing/equivalence.ts";
import { expectAllclose } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { fusedNodes, withoutRows } from "../passes/targets.ts";
import { rowCases, rowProgramCase } from "../passes/rowCases.ts";
import { countDispatches, countedRun, type DispatchCounter } from "./dispatchCount.ts";

/**
 * Row groups on webgpu: one WGSL program per group generated from its row program (fused/row.ts).
 * A row kernel combines sums and maxima as a tree in workgroup memory, in another order than the
 * unfused kernels, so it agrees with them to float32 rounding of a sum: rtol 1e-4, atol 1e-5 against
 * the unfused plan on webgpu; against the float64 reference backend, float32's default (rtol 1e-3,
 * atol 1e-4). Skipped without an adapter unless RANKFUSE_REQUIRE_WEBGPU is set (CI).
 */
const webgpu = await backendRequirement("webgpu");
const gpu = webgpu.skip ? null : (webgpu.get() as WebgpuBackend);
const F32 = { rtol: 1e-4, atol: 1e-5 };

const [n, d] = [dim("n", 37), dim("d", 53)];
const args = [spec([n, d]), spec([n, d]), spec([d])] as const;
const f = (x: Tensor, y: Tensor, w: Tensor) => {
  const h = op.add(x as Tensor<any>, y as Tensor<any>);
  return op.mul(op.softmax(op.rmsnorm(h, w) as Tensor<any>), h);
};
const rnd = (k: number, seed: number) => Float32Array.from({ length: k }, (_, i) => Math.sin(i * 12.9898 + seed) * 3);
const inputs = [rnd(37 * 53, 1), rnd(37 * 53, 2), rnd(53, 3)] as [Float32Array, Float32Array, Float32Array];

/** f in float64 on the host, row by row (rmsnorm's eps 1e-6). */
const onHost = ([x, y, w]: Float32Array[], D: number) => {
  const out = new Float64Array(x!.length);
  for (let r = 0; r < x!.length / D; r++) {
    const h = Array.from({ length: D }, (_, i) => x![r * D + i]! + y![r * D + i]!);
    const inv = 1 / Math.sqrt(h.reduce((p, v) => p + v * v, 0) / D + 1e-6);
    const z = h.map((v, i) => v * inv * w![i]!);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((p, v) => p + v, 0);
    e.forEach((v, i) => (out[r * D + i] = (v / sum) * h[i]!));
  }
  return out;
};

describe.skipIf(webgpu.skip)(webgpu.title("webgpu row groups: generated WGSL"), () => {
  let counter: DispatchCounter;
  beforeAll(() => void (counter = countDispatches(gpu!.device)));
  afterAll(() => counter.stop());

  const counted = (backend: any, fn: any = f, a: any = args, xs: readonly unknown[] = inputs) =>
    countedRun(counter, backend, fn, a, xs);

  it("add, rmsnorm, softmax and a product are one dispatch, close to the unfused kernels", async () => {
    const fused = await counted(gpu!);
    const plain = await counted(withoutRows(gpu!));
    expect(fused.kernels).toBe(1);
    expect(fused.dispatches).toBe(1);
    expect(plain.kernels).toBe(4);
    expect(plain.dispatches).toBeGreaterThan(4);
    expectAllclose(fused.out.out, plain.out.out, F32);
  });

  it("shows the WGSL (what RANKFUSE_DEBUG=4 prints), one pipeline per body", async () => {
    const node = fusedNodes(unwrap(compile(f, { args, backend: gpu! })).graph)[0]!;
    const source = gpu!.kernelSource(node as FusedEqn)!;
    expect(source).toContain("row group add → rmsnorm → softmax → mul");
    expect(source).toContain("var<workgroup> red_");
    // sweeps: x² for rmsnorm, the max, the sum of exponentials, the output
    expect(
      source
        .split("\n")
        .slice(1)
        .join("\n")
        .match(/for \(var i = lane;/g),
    ).toHaveLength(4); // line 1: the key
    const keys = gpu!.fused.compiled().filter((k) => k.startsWith("row_"));
    const m = dim("n", 5);
    await counted(gpu!, f, [spec([m, d]), spec([m, d]), spec([d])], [rnd(5 * 53, 1), rnd(5 * 53, 2), rnd(53, 3)]);
    expect(gpu!.fused.compiled().filter((k) => k.startsWith("row_"))).toEqual(keys); // other rows, same pipeline
  });

  it("short rows share a workgroup; past maxComputeWorkgroupsPerDimension the grid folds into y", async () => {
    const short = dim("d", 3);
    const sArgs = [spec([n, short]), spec([n, short]), spec([short])] as const;
    const sIn = [rnd(37 * 3, 1), rnd(37 * 3, 2), rnd(3, 3)];
    const node = fusedNodes(unwrap(compile(f, { args: sArgs, backend: gpu! })).graph)[0]! as FusedEqn & {
      params: RowParams;
    };
    const launch = rowLaunch(node, gpu!.device.limits);
    if (typeof launch === "string") throw new Error(launch);
    expect(launch.dispatch).toEqual([3, 1, 1]); // 37 rows, 16 a workgroup
    const fused = await counted(gpu!, f, sArgs, sIn);
    expectAllclose(fused.out.out, (await counted(withoutRows(gpu!), f, sArgs, sIn)).out.out, F32);
    const per = gpu!.device.limits.maxComputeWorkgroupsPerDimension;
    const many = dim("n", per + 7);
    const bArgs = [spec([many, dim("d", 2)]), spec([many, dim("d", 2)]), spec([dim("d", 2)])] as const;
    const bIn = [rnd(many.size * 2, 1), rnd(many.size * 2, 2), rnd(2, 3)];
    const big = fusedNodes(unwrap(compile(f, { args: bArgs, backend: gpu! })).graph)[0]! as FusedEqn & {
      params: RowParams;
    };
    const bl = rowLaunch(big, gpu!.device.limits);
    if (typeof bl === "string") throw new Error(bl);
    expect(bl.dispatch[0] * bl.dispatch[1]).toBeGreaterThanOrEqual(Math.ceil(many.size / 32));
    const bf = await counted(gpu!, f, bArgs, bIn);
    expectAllclose(bf.out.out, onHost(bIn, 2), F32);
  }, 120_000);

  it("a group with more buffers than the device binds has no program: it runs by parts", async () => {
    const node = fusedNodes(unwrap(compile(f, { args, backend: gpu! })).graph)[0]! as FusedEqn & {
      params: RowParams;
    };
    expect(node.params.kind).toBe(ROW);
    expect(rowPrograms(node, gpu!.device.limits)).toHaveLength(1);
    expect(rowPrograms(node, { ...gpu!.device.limits, maxStorageBuffersPerShaderStage: 3 })).toEqual([]);
  });

  it("every generated row kernel agrees with the unfused graph on the float64 reference backend", async () => {
    let rows = 0;
    await fc.assert(
      fc.asyncProperty(rowCases, async (c) => {
        const { fn, args: a, inputs: x } = rowProgramCase(c);
        const { actual } = await matchesReference(fn, a, { backend: gpu! })(x);
        for (const p of [actual.plans.forward, actual.plans.vjp])
          rows += p ? fusedNodes(p.graph).filter((e) => e.params.kind === ROW).length : 0;
      }),
      { numRuns: runs(10) },
    );
    expect(rows).toBeGreaterThan(0);
  }, 300_000);

  it("fused ≡ unfused over random row graphs, outputs and gradients within float32 rounding", async () => {
    let rows = 0;
    await fc.assert(
      fc.asyncProperty(rowCases, async (c) => {
        const { fn, args: a, inputs: x } = rowProgramCase(c);
        const { actual } = await fusedMatchesUnfused(fn, a, { backend: gpu!, requireFused: false, tolerance: F32 })(x);
        for (const p of [actual.plans.forward, actual.plans.vjp])
          rows += p ? fusedNodes(p.graph).filter((e) => e.params.kind === ROW).length : 0;
      }),
      { numRuns: runs(12) },
    );
    expect(rows).toBeGreaterThan(0);
  }, 300_000);
});
