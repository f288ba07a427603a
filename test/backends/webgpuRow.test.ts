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
import { countDispatches, type DispatchCounter } from "./dispatchCount.ts";

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

describe.skipIf(webgpu.skip)(webgpu.title("webgpu row groups: generated WGSL"), () => {
  let counter: DispatchCounter;
  beforeAll(() => void (counter = countDispatches(gpu!.device)));
  afterAll(() => counter.stop());

  const counted = async (backend: any, fn: any = f, a: any = args, xs: any[] = inputs) => {
    const c = unwrap(compile(fn, { args: a, backend })) as any;
    await unwrap(await c.run(...xs)); // first run compiles the pipelines
    const before = counter.count;
    const out: any = unwrap(await c.run(...xs));
    return { out, dispatches: counter.count - before, kernels: c.plan.kernelCount };
  };

  it("add, rmsnorm, softmax and a product are one dispatch, close to the unfused kernels", async () => {
    const fused = await counted(gpu!);
    const plain = await counted(withoutRows(gpu!));
    expect(fused.kernels).toBe(1);
    expect(fused.dispatches).toBe(1);
    expect(plain.kernels).toBe(4);
    expect(plain.dispatches).toBeGreaterThan(4);
    expectAllclose(fused.out.out, plain.out.out, F32);
  });
});
