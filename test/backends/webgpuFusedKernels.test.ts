import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { countDispatches, type DispatchCounter } from "./dispatchCount.ts";
import { maxFusedRankOf } from "../../backends/webgpu/fused/tiling.ts";
import { colaLinear } from "../../models/layers.ts";
import { colaMPolicy as colaM } from "../../methods/colaM/policy.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { backendRequirement } from "../helpers/requirements.ts";

/**
 * Kernel counts are the spec of fusion, counted as real GPU dispatches (every dispatchWorkgroups on a
 * compute pass, fused.dispatchCount.ts): on webgpu a CoLA layer's forward is 1 dispatch, its backward
 * at most 3 (dZ and dX in one, then dA and dB as token reductions), in plain training and under CoLA-M.
 * Skipped without an adapter unless RANKFUSE_REQUIRE_WEBGPU is set (CI), which makes that a failure.
 */
const webgpu = await backendRequirement("webgpu");
const gpu = webgpu.skip ? null : (webgpu.get() as WebgpuBackend); // throws, failing the file, where RANKFUSE_REQUIRE_WEBGPU demands it

const [b, t, d, r, o] = [dim("b", 3), dim("t", 50), dim("d", 24), dim("r", 8), dim("o", 20)];
type P = { A: Tensor; B: Tensor };
const layer = (p: P, x: Tensor) => colaLinear(x as never, p as never);
const layerArgs = [{ A: spec([d, r]), B: spec([r, o]) }, spec([b, t, d])] as const;
const lossOf = (p: P & { x: Tensor }, w: Tensor) => op.sum(op.mul(layer(p, p.x), w as never));
const joint = ((p: never, w: Tensor) => valueAndGrad(lossOf)(p, w)) as never;
const gradArgs = [{ A: spec([d, r]), B: spec([r, o]), x: spec([b, t, d]) }, spec([b, t, o])] as const;

const draw = (k: number, seed: number) =>
  Float32Array.from({ length: k }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * 0.8);
const sizes = { A: d.size * r.size, B: r.size * o.size, x: b.size * t.size * d.size, w: b.size * t.size * o.size };

/** Runs `fn` counting the dispatches of each fused node it launches, by kind, and all dispatches. */
function perNode<B>(be: Backend<B>, counter: () => DispatchCounter) {
  const byKind: Record<string, number[]> = {};
  const wrapped: Backend<B> = {
    ...be,
    prepareFused: (node) => {
      const k = be.prepareFused!(node);
      return (inputs) => {
        const c = counter().count;
        const outs = k(inputs);
        (byKind[node.params.kind] ??= []).push(counter().count - c);
        return outs;
      };
    },
  };
  return { wrapped, byKind };
}

describe.skipIf(webgpu.skip)(webgpu.title("webgpu fused kernels: counted dispatches"), () => {
  let counter: DispatchCounter;
  beforeAll(() => void (counter = countDispatches(gpu!.device)));
  afterAll(() => counter.stop());

  it("caps come from the device: fused chains up to the rank whose block fits its workgroup memory", () => {
    expect(gpu!.caps.fusedChains).toBe(true);
    expect([...gpu!.caps.fusedKinds!].sort()).toEqual([
      "elementwise",
      "lowrank",
      "lowrankBackward",
      "lowrankTail",
      "matmulAdd",
      "row",
    ]);
    expect(gpu!.caps.maxFusedRank).toBe(maxFusedRankOf(gpu!.device.limits));
    expect(gpu!.caps.maxFusedRank).toBeGreaterThanOrEqual(512); // the 1B config's rank fits even 16 KiB of workgroup memory
  });

  it("a CoLA layer's forward is 1 dispatch (and 1 with a residual epilogue), with the reference's values", async () => {
    const compiled = unwrap(compile(layer, { args: layerArgs, backend: gpu! }));
    expect(compiled.plan.kernelCount).toBe(1);
    const before = counter.count;
    const ran: string[] = [];
    gpu!.fused.onRun = (p) => ran.push(p.shaderKey);
    const got = unwrap(
      await compiled.run({ A: draw(sizes.A, 1), B: draw(sizes.B, 2) } as never, draw(sizes.x, 3) as never),
    ).out as unknown as Float32Array;
    gpu!.fused.onRun = null;
    expect(counter.count - before).toBe(1);
    expect(ran).toEqual([expect.stringMatching(/^rowChain_forward_silu_none_oy_r8_.*_vec4$/)]); // the one dispatch is the fused program
    const want = unwrap(
      await unwrap(compile(layer, { args: layerArgs, backend: referenceBackend() })).run(
        { A: Float64Array.from(draw(sizes.A, 1)), B: Float64Array.from(draw(sizes.B, 2)) } as never,
        Float64Array.from(draw(sizes.x, 3)) as never,
      ),
    ).out as unknown as Float64Array;
    expect(allcloseViolation(got, want, 1e-4, 1e-5)).toBeNull();

    const sq = dim("d", 24);
    const residual = (p: P, x: Tensor) => op.add(x as never, colaLinear(x as never, p as never) as never);
    const res = unwrap(
      compile(residual, { args: [{ A: spec([sq, r]), B: spec([r, sq]) }, spec([b, t, sq])] as const, backend: gpu! }),
    );
    expect(res.plan.kernelCount).toBe(1);
    const at = counter.count;
    unwrap(await res.run({ A: draw(sizes.A, 4), B: draw(r.size * sq.size, 5) } as never, draw(sizes.x, 6) as never));
    expect(counter.count - at).toBe(1);
  });

  it.each([
    ["saving activations", undefined],
    ["under CoLA-M remat", colaM],
  ] as const)(
    "in training (%s): the forward chain is 1 dispatch, the backward chain 3 (dZ+dX, dA, dB)",
    async (_, remat) => {
      const { wrapped, byKind } = perNode(gpu!, () => counter);
      const compiled = unwrap(compile(joint, { args: gradArgs, backend: wrapped, remat }));
      const before = counter.count;
      const ran = unwrap(
        await compiled.run(
          { A: draw(sizes.A, 1), B: draw(sizes.B, 2), x: draw(sizes.x, 3) } as never,
          draw(sizes.w, 4) as never,
        ),
      );
      const total = counter.count - before;
      // and one elementwise group (1 dispatch): the loss's cotangent, broadcast then multiplied by w
      expect(byKind).toEqual({ elementwise: [1], lowrank: [1], lowrankBackward: [3] });
      // the same step unfused dispatches more kernels, for the same loss
      const plain = unwrap(compile(joint, { args: gradArgs, backend: gpu!, remat, fusion: false }));
      const at = counter.count;
      const ranPlain = unwrap(
        await plain.run(
          { A: draw(sizes.A, 1), B: draw(sizes.B, 2), x: draw(sizes.x, 3) } as never,
          draw(sizes.w, 4) as never,
        ),
      );
      expect(counter.count - at).toBeGreaterThan(total);
      const value = (r: typeof ran) => (r.out as unknown as [Float32Array])[0][0]!;
      expect(value(ran)).toBeCloseTo(value(ranPlain), 3);
    },
  );

  it("a chain wider than maxFusedRank is left unfused on webgpu (caps decide)", () => {
    const wide = dim("r", gpu!.caps.maxFusedRank! * 2);
    const plan = unwrap(
      compile(layer, { args: [{ A: spec([d, wide]), B: spec([wide, o]) }, spec([b, t, d])] as const, backend: gpu! }),
    ).plan;
    expect(plan.fusedCount).toBe(0);
    const fits = dim("r", gpu!.caps.maxFusedRank!);
    expect(
      unwrap(
        compile(layer, { args: [{ A: spec([d, fits]), B: spec([fits, o]) }, spec([b, t, d])] as const, backend: gpu! }),
      ).plan.fusedCount,
    ).toBe(1);
  });

  it("RANKFUSE_DEBUG=4 prints each generated WGSL program once, with the plan", () => {
    const lines: string[] = [];
    const err = console.error;
    const prev = process.env.RANKFUSE_DEBUG;
    console.error = (...a: unknown[]) => void lines.push(a.join(" "));
    process.env.RANKFUSE_DEBUG = "4";
    try {
      const od = dim("o", 21);
      unwrap(
        compile(layer, { args: [{ A: spec([d, r]), B: spec([r, od]) }, spec([b, t, d])] as const, backend: gpu! }),
      );
      unwrap(
        compile(layer, { args: [{ A: spec([d, r]), B: spec([r, od]) }, spec([b, t, d])] as const, backend: gpu! }),
      );
    } finally {
      console.error = err;
      if (prev === undefined) delete process.env.RANKFUSE_DEBUG;
      else process.env.RANKFUSE_DEBUG = prev;
    }
    const [first, second] = lines;
    expect(first).toMatch(/fused\.lowrank runs as one webgpu kernel/);
    expect(first).toMatch(/\/\/ rankfuse fused kernel rowChain_forward_silu_none_oy_r8_/);
    expect(first).toMatch(/var<workgroup> rankBlock : array<f32, \d+>;/);
    expect(first).toMatch(/@compute @workgroup_size\(\d+, 1, 1\)/);
    expect(second).toMatch(/rowChain_forward_silu_none_oy_r8_\S+: WGSL shown above/);
    expect(second).not.toMatch(/@compute/);
  });
});
