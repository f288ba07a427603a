import { runs } from "../helpers/runs.ts";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { trace } from "../../dsl/traceFunction.ts";
import { valueAndGrad } from "../../dsl/autodiff.ts";
import { checkpointName, type Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { rematGraph, saveAll, savedResiduals, type Recover, type RematPolicy } from "../../passes/remat.ts";
import { unwrap } from "../../testing/unwrap.ts";

const n = dim("n", 5);
const args = [{ a: spec([n]), b: spec([n]) }] as const;
type P = { a: Tensor; b: Tensor };
// backward reads both named values: d(h·k)/dh = k, d(h·k)/dk = h
const loss = (p: P) =>
  op.sum(op.mul(checkpointName(op.mul(p.a, p.b as never), "h"), checkpointName(op.exp(p.a), "k") as never));
const joint = ((p: never) => valueAndGrad(loss)(p)) as never;

/** Saves nothing; gets h back as b·a (its forward equation is a·b), and leaves k to be recomputed. */
function swapped(): RematPolicy & { graphs: number } {
  const policy = {
    name: "swapped",
    graphs: 0,
    save: () => false,
    recover: (): Recover => {
      policy.graphs++;
      return (v, ctx) => {
        const e = ctx.def(v);
        if (e?.meta.name !== "h") return undefined;
        const [x, y] = e.inputs.map(ctx.materialize);
        return ctx.emit("mul", [y!, x!], {}, v.abs, "h (recovered)");
      };
    },
  } satisfies RematPolicy & { graphs: number };
  return policy;
}

describe("a remat policy's recover hook", () => {
  it("replaces the recompute of the values it recovers, once each, and leaves the rest to be recomputed", () => {
    const policy = swapped();
    const g = rematGraph(unwrap(trace(joint, args)).graph, policy);
    const named = (name: string) => g.eqns.filter((e) => e.meta.name === name);
    expect(policy.graphs).toBe(1);
    expect(named("h (recovered)").map((e) => [e.prim, e.meta.phase])).toEqual([["mul", "backward"]]);
    expect(named("h (recomputed)")).toHaveLength(0);
    expect(named("k (recomputed)")).toHaveLength(1);
    expect(savedResiduals(g)).toEqual([]); // backward reads only graph inputs and its own values
  });

  it("runs through compile: loss and gradients bit-equal to saveAll's", async () => {
    const floats = fc.float32Array({
      minLength: 5,
      maxLength: 5,
      noNaN: true,
      noDefaultInfinity: true,
      min: -4,
      max: 4,
    });
    const run = async (remat: RematPolicy, a: Float32Array, b: Float32Array) => {
      const c = unwrap(compile(joint, { args, backend: referenceBackend(), remat }));
      const { out } = unwrap(await c.run({ a: Float64Array.from(a), b: Float64Array.from(b) } as never)) as unknown as {
        out: [ArrayLike<number>, Record<string, ArrayLike<number>>];
      };
      return [out[0][0]!, ...Array.from(out[1].a!), ...Array.from(out[1].b!)];
    };
    await fc.assert(
      fc.asyncProperty(floats, floats, async (a, b) => {
        expect(await run(swapped(), a, b)).toEqual(await run(saveAll, a, b));
      }),
      { numRuns: runs(20) },
    );
  });
});
