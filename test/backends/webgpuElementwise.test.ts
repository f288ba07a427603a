import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import { compile } from "../../run/compile.ts";
import type { FusedEqn } from "../../ir/graph.ts";
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { fusedMatchesUnfused } from "../../testing/equivalence.ts";
import { expectAllclose } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { runs } from "../helpers/runs.ts";
import { backendRequirement } from "../helpers/requirements.ts";
import { chainsOnly, fusedNodes } from "../passes/targets.ts";
import { elementwiseCases, elementwiseProgram } from "../passes/elementwiseCases.ts";
import { elementwiseLaunch, elementwisePrograms } from "../../backends/webgpu/fused/elementwise.ts";
import { countDispatches, countedRun, type DispatchCounter } from "./dispatchCount.ts";
import { tinyTrainStep } from "../helpers/tinyTrainStep.ts";

/**
 * Fused elementwise groups on webgpu: one generated WGSL program per group (fused/elementwise.ts),
 * counted as real GPU dispatches. Its ops are written as tfjs-webgpu's kernels write them, but one
 * shader gives the GPU compiler room the separate kernels do not (contraction, reassociated exp/pow),
 * so fused and unfused are compared at float32 rounding: rtol 1e-4, atol 1e-5 (NaN equal to NaN). A few
 * ulps per element is not enough: a broadcast input's gradient sums its elements' terms, and with
 * cancellation one ulp each became 3e-5 relative (a [5, 1] input read across 26 columns).
 * Skipped without an adapter unless RANKFUSE_REQUIRE_WEBGPU is set (CI).
 */
const webgpu = await backendRequirement("webgpu");
const gpu = webgpu.skip ? null : (webgpu.get() as WebgpuBackend);
const TOL = { rtol: 1e-4, atol: 1e-5, equalNan: true };

const [n, d] = [dim("n", 37), dim("d", 53)];
const args = [spec([n, d]), spec([d]), spec([n, d])] as const;
const f = (x: any, y: any, z: any) => op.silu(op.add(op.mul(x, y), z));
const rnd = (k: number, seed: number) => Float32Array.from({ length: k }, (_, i) => Math.sin(i * 12.9898 + seed) * 3);
const inputs = [rnd(37 * 53, 1), rnd(53, 2), rnd(37 * 53, 3)] as [Float32Array, Float32Array, Float32Array];

describe.skipIf(webgpu.skip)(webgpu.title("webgpu elementwise groups: generated WGSL"), () => {
  let counter: DispatchCounter;
  beforeAll(() => void (counter = countDispatches(gpu!.device)));
  afterAll(() => counter.stop());

  const counted = (backend: any, fn: any = f, a: any = args, xs: readonly unknown[] = inputs) =>
    countedRun(counter, backend, fn, a, xs);

  it("x*y+z then silu is one dispatch (four op by op), close to the unfused kernels", async () => {
    const fused = await counted(gpu!);
    const plain = await counted(chainsOnly(gpu!));
    expect(fused.kernels).toBe(1);
    expect(fused.dispatches).toBe(1);
    expect(plain.kernels).toBe(3);
    expect(plain.dispatches).toBe(4); // mul, add, and silu as sigmoid then mul
    expectAllclose(fused.out.out, plain.out.out, TOL);
  });

  it("its gradients under valueAndGrad agree, with fewer dispatches", async () => {
    type P = { x: Tensor; y: Tensor; z: Tensor };
    const loss = (p: P) => op.sum(f(p.x, p.y, p.z)) as Tensor<readonly []>;
    const joint = (p: P) => valueAndGrad(loss)(p);
    const pArgs = [{ x: args[0], y: args[1], z: args[2] }] as const;
    const pIn = [{ x: inputs[0], y: inputs[1], z: inputs[2] }];
    const fused = await counted(gpu!, joint, pArgs, pIn);
    const plain = await counted(chainsOnly(gpu!), joint, pArgs, pIn);
    expect(fused.dispatches).toBeLessThan(plain.dispatches);
    expectAllclose(fused.out.out, plain.out.out, TOL);
  });

  it("shows the WGSL (what RANKFUSE_DEBUG=4 prints), one pipeline per body", async () => {
    const node = fusedNodes(unwrap(compile(f, { args, backend: gpu! })).graph)[0]!;
    const source = gpu!.kernelSource(node as FusedEqn)!;
    expect(source).toContain("fn main(");
    expect(source).toContain("sigmoid_(");
    expect(source.match(/var<storage, read> in\d/g)).toHaveLength(3);
    const key = gpu!.fused.compiled().filter((k) => k.startsWith("elementwise_"));
    await counted(
      gpu!,
      f,
      [spec([dim("n", 5), d]), spec([d]), spec([dim("n", 5), d])],
      [rnd(5 * 53, 1), rnd(53, 2), rnd(5 * 53, 3)],
    );
    expect(gpu!.fused.compiled().filter((k) => k.startsWith("elementwise_"))).toEqual(key); // other sizes, same pipeline
  });

  it("past maxComputeWorkgroupsPerDimension workgroups the grid folds into y, every element as unfused", async () => {
    const per = gpu!.device.limits.maxComputeWorkgroupsPerDimension;
    const [a, b] = [dim("a", 3), dim("b", Math.ceil((per * 64) / 3) + 101)];
    const big = [spec([a, b]), spec([b]), spec([])] as const;
    const k = a.size * b.size;
    const xs = [rnd(k, 4), rnd(b.size, 5), Float32Array.of(0.5)];
    const node = fusedNodes(unwrap(compile(f, { args: big, backend: gpu! })).graph)[0]!;
    expect(elementwiseLaunch(node, gpu!.device.limits).dispatch[1]).toBeGreaterThan(1);
    const fused = await counted(gpu!, f, big, xs);
    const plain = await counted(chainsOnly(gpu!), f, big, xs);
    expect(fused.dispatches).toBe(1);
    expectAllclose(fused.out.out, plain.out.out, TOL);
  }, 120_000);

  it("a group with more buffers than the device binds has no program: it runs op by op", () => {
    const node = fusedNodes(unwrap(compile(f, { args, backend: gpu! })).graph)[0]!;
    expect(elementwisePrograms(node, gpu!.device.limits)).toHaveLength(1);
    expect(elementwisePrograms(node, { ...gpu!.device.limits, maxStorageBuffersPerShaderStage: 3 })).toEqual([]);
  });

  it("a tiny training step gives the same loss and gradients with and without elementwise groups", async () => {
    for (const method of ["full", "cola"]) {
      const fused = await tinyTrainStep(method, gpu!);
      const plain = await tinyTrainStep(method, chainsOnly(gpu!));
      expect(fused.kernels).toBeLessThan(plain.kernels);
      expectAllclose([fused.loss], [plain.loss], TOL);
      expectAllclose(fused.grads, plain.grads, TOL);
    }
  }, 300_000);

  it("fused ≡ unfused over random elementwise graphs with broadcasting, outputs and gradients", async () => {
    let groups = 0;
    await fc.assert(
      fc.asyncProperty(elementwiseCases, async (c) => {
        const { fn, args: a, inputs: x } = elementwiseProgram(c);
        const { actual } = await fusedMatchesUnfused(fn, a, { backend: gpu!, requireFused: false, tolerance: TOL })(x);
        for (const p of [actual.plans.forward, actual.plans.vjp])
          groups += p ? fusedNodes(p.graph).filter((e) => e.params.kind === "elementwise").length : 0;
      }),
      { numRuns: runs(10) },
    );
    expect(groups).toBeGreaterThan(0);
  }, 300_000);
});
