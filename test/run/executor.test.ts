import { describe, expect, it } from "vitest";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { colaLinear } from "../../models/layers.ts";
import { unwrap } from "../../testing/unwrap.ts";

const n = dim("n", 16),
  d = dim("d", 8),
  r = dim("r", 2);
const args = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;
const loss = (p: { A: Tensor; B: Tensor }, x: Tensor) => op.sum(op.square(colaLinear(x as never, p as never)));

/** Buffer lifetimes come from liveness: the measured peak is the predicted one, and nothing leaks. */
describe("executor", () => {
  it("measures the peak the plan predicts (reference, 8-byte values) and frees everything", async () => {
    const backend = referenceBackend();
    const c = unwrap(compile((p: { A: Tensor; B: Tensor }, x: Tensor) => valueAndGrad(loss)(p, x), { args, backend }));
    const before = backend.liveBytes();
    const { stats } = unwrap(
      await c.run(
        { A: new Float64Array(16).fill(0.1), B: new Float64Array(16).fill(0.2) },
        new Float64Array(128).fill(1),
      ),
    );
    expect(stats.peakBytes).toBe(c.plan.predictedPeakBytes);
    expect(backend.liveBytes()).toBe(before);
  });

  it("frees each intermediate after its last use: a long chain needs two buffers, not all of them", async () => {
    const backend = referenceBackend();
    const chain = (x: Tensor) => {
      let y = x;
      for (let i = 0; i < 20; i++) y = op.tanh(y);
      return y;
    };
    const c = unwrap(compile(chain, { args: [spec([n, d])], backend }));
    const bytes = 16 * 8 * 8;
    expect(c.plan.predictedPeakBytes).toBe(2 * bytes);
    const { stats } = unwrap(await c.run(new Float64Array(128).fill(0.5)));
    expect(stats.peakBytes).toBe(2 * bytes);
  });

  it("drops equations no output needs", () => {
    const c = unwrap(
      compile((x: Tensor) => (op.exp(x), op.neg(x)), { args: [spec([n])], backend: referenceBackend() }),
    );
    expect(c.plan.launches.map((l) => l.eqn.prim)).toEqual(["neg"]);
  });
});

describe("native buffer pool", async () => {
  const { BufferPool } = await import("../../backends/native/pool.ts");
  it("counts live bytes exactly, shares memory for views, and reuses freed buffers", () => {
    const pool = new BufferPool();
    const a = pool.f32(256);
    expect(pool.liveBytes).toBe(1024);
    const v = pool.view(a);
    expect(pool.liveBytes).toBe(1024);
    v[3] = 7;
    expect(a[3]).toBe(7);
    pool.release(a);
    expect(pool.liveBytes).toBe(1024); // the view still holds the memory
    pool.release(v);
    expect(pool.liveBytes).toBe(0);
    const b = pool.f32(256);
    expect(b.buffer).toBe(a.buffer); // reused, not reallocated
    const c = pool.i32(256);
    expect(c.buffer).not.toBe(b.buffer);
    expect(pool.liveBytes).toBe(2048);
  });
});
