import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { countDispatches, type DispatchCounter } from "./dispatchCount.ts";
import { allcloseViolation } from "../../testing/allclose.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { backendRequirement } from "../helpers/requirements.ts";

/**
 * A two-link chain `C·silu(B·silu(A·x))` on the webgpu kernels, counted as real GPU dispatches: the
 * forward is 2 (the lowrank row chain, then the tail's row chain reading its y); in training the
 * backward is 2 + 3 (the tail's backward: dZ, then dC as a token reduction; the first link's: dZ with
 * dX, then dA and dB), and loss and gradients equal the float64 reference, on the scalar and vec4 paths.
 * Skipped without an adapter unless RANKFUSE_REQUIRE_WEBGPU is set (CI), which makes that a failure.
 */
const webgpu = await backendRequirement("webgpu");
const gpu = webgpu.skip ? null : (webgpu.get() as WebgpuBackend); // throws, failing the file, where RANKFUSE_REQUIRE_WEBGPU demands it

type P = { A: Tensor; B: Tensor; C: Tensor; x: Tensor };
const chain = (p: P) =>
  op.matmul(op.silu(op.matmul(op.gelu(op.matmul(p.x, p.A as never)), p.B as never)), p.C as never);
const lossOf = (p: P, w: Tensor) => op.sum(op.mul(chain(p), w as never));
const joint = ((p: never, w: Tensor) => valueAndGrad(lossOf)(p, w)) as never;

function setup(widths: [number, number, number, number], rows: [number, number]) {
  const [d, r1, r2, o] = widths.map((w, i) => dim(`w${i}`, w)) as [Dim, Dim, Dim, Dim];
  const lead = rows.map((s, i) => dim(`n${i}`, s));
  const params = { A: spec([d, r1]), B: spec([r1, r2]), C: spec([r2, o]), x: spec([...lead, d]) };
  const n = rows[0] * rows[1];
  const draw = (k: number, seed: number, scale: number) =>
    Float32Array.from({ length: k }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * scale);
  const values = {
    A: draw(d.size * r1.size, 1, 1 / Math.sqrt(d.size)),
    B: draw(r1.size * r2.size, 2, 1 / Math.sqrt(r1.size)),
    C: draw(r2.size * o.size, 3, 1 / Math.sqrt(r2.size)),
    x: draw(n * d.size, 4, 1),
  };
  return { params, values, ws: spec([...lead, o]), w: draw(n * o.size, 5, 1) };
}

/** Runs `fn` counting the dispatches of each fused node it launches, in launch order. */
function perNode<B>(be: Backend<B>, counter: () => DispatchCounter) {
  const ran: [string, number][] = [];
  const wrapped: Backend<B> = {
    ...be,
    prepareFused: (node) => {
      const k = be.prepareFused!(node);
      return (inputs) => {
        const c = counter().count;
        const outs = k(inputs);
        ran.push([node.params.kind, counter().count - c]);
        return outs;
      };
    },
  };
  return { wrapped, ran };
}

describe.skipIf(webgpu.skip)(webgpu.title("webgpu: a two-link chain C·silu(B·gelu(A·x))"), () => {
  let counter: DispatchCounter;
  beforeAll(() => void (counter = countDispatches(gpu!.device)));
  afterAll(() => counter.stop());

  it("forward: 2 dispatches, lowrank then lowrankTail, with the reference's values", async () => {
    const { params, values } = setup([24, 8, 6, 20], [3, 50]);
    const compiled = unwrap(compile(chain, { args: [params] as const, backend: gpu! }));
    expect(compiled.plan.kernelCount).toBe(2);
    const before = counter.count;
    const got = unwrap(await compiled.run(values as never)).out as unknown as Float32Array;
    expect(counter.count - before).toBe(2);
    const ref = unwrap(compile(chain, { args: [params] as const, backend: referenceBackend() }));
    const f64 = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Float64Array.from(v)]));
    const want = unwrap(await ref.run(f64 as never)).out as unknown as Float64Array;
    expect(allcloseViolation(got, want, 1e-4, 1e-5)).toBeNull();
  });

  it.each([
    ["scalar", [24, 7, 5, 21]],
    ["vec4", [24, 8, 12, 20]],
  ] as const)(
    "training (%s path): forward 1 + 1 dispatches, backward 2 + 3, gradients as the reference's",
    async (_, widths) => {
      const { params, values, ws, w } = setup([...widths], [2, 45]);
      const { wrapped, ran } = perNode(gpu!, () => counter);
      const compiled = unwrap(compile(joint, { args: [params, ws] as const, backend: wrapped }));
      const out = unwrap(await compiled.run(values as never, w as never)).out as unknown as [
        Float32Array,
        Record<string, Float32Array>,
      ];
      expect(ran).toEqual([
        ["lowrank", 1],
        ["lowrankTail", 1],
        ["elementwise", 1], // the loss's cotangent, broadcast then multiplied by w: one elementwise group
        ["lowrankBackward", 2], // the tail's: dZ (row chain), dC (token reduction)
        ["lowrankBackward", 3], // the first link's: dZ and dX (row chain), dA, dB
      ]);
      const ref = unwrap(compile(joint, { args: [params, ws] as const, backend: referenceBackend() }));
      const f64 = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Float64Array.from(v)]));
      const want = unwrap(await ref.run(f64 as never, Float64Array.from(w) as never)).out as unknown as [
        Float64Array,
        Record<string, Float64Array>,
      ];
      expect(allcloseViolation(out[0], want[0], 2e-4, 2e-4)).toBeNull();
      for (const k of ["A", "B", "C", "x"])
        expect(allcloseViolation(out[1][k]!, want[1][k]!, 2e-4, 2e-4), `grad ${k}`).toBeNull();
    },
  );
});
