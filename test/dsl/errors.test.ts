import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import { renderError, type RankfuseError } from "../../ir/errors.ts";
import * as op from "../../dsl/ops.ts";
import { PRIMS } from "../../ir/prims.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import type { Tensor } from "../../dsl/trace.ts";

const backend = referenceBackend();
const n = dim("n", 3),
  d = dim("d", 4),
  r = dim("r", 2);

function leftOf(e: E.Either<RankfuseError, unknown>): RankfuseError {
  if (E.isRight(e)) throw new Error("expected a Left");
  return e.left;
}

/** User errors come back as one readable Left naming the op and the shapes; the run-time twin of the shape types. */
describe("errors at the boundary", () => {
  it("a matmul that does not fit names the op and both shapes", () => {
    const e = leftOf(
      compile((x: Tensor, y: Tensor) => op.matmul(x, y as never), { args: [spec([n, d]), spec([r, d])], backend }),
    );
    expect(e.tag).toBe("ShapeError");
    expect(renderError(e)).toBe(
      "ShapeError: matmul: cannot multiply [n=3, d=4] by [r=2, d=4]: inner dims [d=4] and [r=2] differ",
    );
  });

  it("dims with equal sizes but different names do not fit either (as in the types)", () => {
    const a = dim("a", 4),
      b = dim("b", 4);
    const e = leftOf(
      compile((x: Tensor, y: Tensor) => op.matmul(x, y as never), { args: [spec([n, a]), spec([b, r])], backend }),
    );
    expect(e.message).toContain("inner dims [a=4] and [b=4] differ");
  });

  it("elementwise shapes that do not broadcast are refused", () => {
    const e = leftOf(
      compile((x: Tensor, y: Tensor) => op.add(x, y as never), { args: [spec([n, d]), spec([d, r])], backend }),
    );
    expect(renderError(e)).toMatch(/^ShapeError: (broadcast|add): /);
    expect(e.message).toContain("[d=4, r=2]");
  });

  it("an unbound dim says how to bind it", () => {
    const m = dim("m");
    const e = leftOf(compile((x: Tensor) => op.exp(x), { args: [spec([m, d])], backend }));
    expect(e.tag).toBe("UnboundDim");
    expect(e.message).toContain("dims: { m: <size> }");
    const ok = compile((x: Tensor) => op.exp(x), { args: [spec([m, d])], backend, dims: { m: 5 } });
    expect(E.isRight(ok) && ok.right.graph.inputs[0]!.shape).toEqual([5, 4]);
  });

  it("a dim bound to two sizes is refused", () => {
    const e = leftOf(
      compile((x: Tensor, y: Tensor) => op.add(x, y as never), {
        args: [spec([dim("k", 2)]), spec([dim("k", 3)])],
        backend,
      }),
    );
    expect(e.message).toContain('dim "k" is 2 in one input and 3 in another');
  });

  it("a dtype clash names both dtypes", () => {
    const e = leftOf(
      compile((x: Tensor, i: Tensor) => op.add(x, i as never), { args: [spec([n]), spec([n], "int32")], backend }),
    );
    expect(e.tag).toBe("DtypeError");
    expect(e.message).toBe("add: cannot combine float32[n=3] with int32[n=3]");
    const g = leftOf(
      compile((t: Tensor, i: Tensor) => op.gather(t as never, i), { args: [spec([n, d]), spec([n])], backend }),
    );
    expect(g.message).toBe("gather: ids must be int32, got float32");
  });

  it("an op the backend lacks is refused at compile time", () => {
    const noSilu = {
      ...backend,
      name: "partial",
      caps: { ...backend.caps, prims: new Set(PRIMS.filter((p) => p !== "silu")) },
    };
    const e = leftOf(compile((x: Tensor) => op.silu(x), { args: [spec([n])], backend: noSilu }));
    expect(e).toMatchObject({ tag: "UnsupportedOp", op: "silu", backend: "partial" });
    expect(renderError(e)).toBe("UnsupportedOp: op silu has no kernel on the partial backend");
  });

  it("run-time inputs of the wrong size or dtype are a Left, not a crash", async () => {
    const c = compile((x: Tensor) => op.exp(x), { args: [spec([n])], backend });
    if (E.isLeft(c)) throw new Error(c.left.message);
    const bad = await c.right.run(new Float64Array(2) as never);
    expect(E.isLeft(bad) && bad.left.message).toBe("run: input 0 [n=3] needs 3 values, got 2");
    const wrongType = await c.right.run(new Int32Array(3) as never);
    expect(E.isLeft(wrongType) && wrongType.left.message).toContain("is float32, got a Int32Array");
  });

  it("grad of a non-scalar function is refused", async () => {
    const { valueAndGrad } = await import("../../dsl/autodiff.ts");
    const e = leftOf(
      compile((x: Tensor) => valueAndGrad((p: Tensor) => op.exp(p) as never)(x), { args: [spec([n])], backend }),
    );
    expect(e.message).toContain("must return a float32 scalar");
  });
});
