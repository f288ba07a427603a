import { describe, expect, it } from "vitest";
import { dim } from "../../ir/dim.ts";
import { checkpointName, withTrace } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";

/** checkpointName puts the name on the equation that computed the tensor, in the trace that made it. */
describe("checkpointName", () => {
  const n = dim("n", 3);

  it("names the equation that computed the tensor and no other; a second name replaces the first", () =>
    withTrace((t) => {
      const x = t.addInput({ dims: [n], dtype: "float32" });
      const a = op.exp(x),
        b = op.neg(a);
      op.add(a, b);
      expect(checkpointName(b, "b")).toBe(b);
      expect(t.eqns.map((e) => e.meta.name)).toEqual([undefined, "b", undefined]);
      checkpointName(a, "a");
      checkpointName(b, "b2");
      expect(t.eqns.map((e) => e.meta.name)).toEqual(["a", "b2", undefined]);
    }));

  it("leaves a graph input alone: no equation computed it", () =>
    withTrace((t) => {
      const x = t.addInput({ dims: [n], dtype: "float32" });
      op.exp(x);
      expect(checkpointName(x, "x")).toBe(x);
      expect(t.eqns.map((e) => e.meta.name)).toEqual([undefined]);
    }));

  it("names a tensor of an enclosing trace in that trace, not where it was captured", () =>
    withTrace((outer) => {
      const a = op.exp(outer.addInput({ dims: [n], dtype: "float32" }));
      withTrace((inner) => {
        const y = op.mul(a, a);
        checkpointName(a, "outer value");
        checkpointName(y, "inner value");
        expect(inner.eqns.map((e) => e.meta.name)).toEqual(["inner value"]);
      });
      expect(outer.eqns.map((e) => e.meta.name)).toEqual(["outer value"]);
    }));

  it("names every value of a long trace, each on its own equation", () =>
    withTrace((t) => {
      let x = t.addInput({ dims: [n], dtype: "float32" });
      for (let i = 0; i < 5_000; i++) x = checkpointName(op.neg(x), `v${i}`);
      expect(t.eqns.every((e, i) => e.meta.name === `v${i}`)).toBe(true);
    }));
});
