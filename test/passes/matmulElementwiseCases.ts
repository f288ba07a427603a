import fc from "fast-check";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { randomInputs } from "../../testing/inputs.ts";

/**
 * A random matmul with an elementwise epilogue: leading batch dims (none, one, two), a weight shared
 * by the batch or one per index, either operand transposed, an epilogue (SwiGLU's silu(g) ⊙ y, y ⊙ e,
 * dsilu(y) ⊙ e, (y − e)²) on an extra input e of the product's shape or broadcast to it (a row [n] or a
 * scalar), and the product optionally read by something else too (so the node
 * outputs it as well).
 */
export const matmulElementwiseCases = fc.record({
  batch: fc.constantFrom<readonly number[]>([], [3], [2, 2]),
  m: fc.integer({ min: 1, max: 40 }),
  k: fc.integer({ min: 1, max: 40 }),
  n: fc.integer({ min: 1, max: 40 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  shared: fc.boolean(),
  body: fc.constantFrom("swiglu", "mul", "dsiluMul", "squaredDiff"),
  extra: fc.constantFrom("full", "row", "scalar"),
  readY: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});
/** One drawn case. */
export type MatmulElementwiseCase = typeof matmulElementwiseCases extends fc.Arbitrary<infer C> ? C : never;

/** The case's function, its specs and random inputs. */
export function matmulElementwiseProgram(c: MatmulElementwiseCase) {
  const [m, k, n] = [dim("m", c.m), dim("k", c.k), dim("n", c.n)];
  const b: Dim[] = c.batch.map((s, i) => dim(`b${i}`, s));
  const shared = c.shared && !c.transA;
  const eDims = { full: [...b, m, n], row: [n], scalar: [] as Dim[] }[c.extra];
  const args = [
    spec([...b, ...(c.transA ? [k, m] : [m, k])]),
    spec([...(shared ? [] : b), ...(c.transB ? [n, k] : [k, n])]),
    spec(eDims),
  ] as const;
  const fn = (x: Tensor, w: Tensor, e: Tensor) => {
    const y = op.matmulT(x, w, c.transA, c.transB) as Tensor<any>;
    const ea = e as Tensor<any>;
    const out =
      c.body === "swiglu"
        ? op.mul(op.silu(op.add(ea, ea)), y)
        : c.body === "mul"
          ? op.mul(y, ea)
          : c.body === "dsiluMul"
            ? op.mul(op.dsilu(y), ea)
            : op.mul(op.sub(y, ea), op.sub(y, ea));
    // tanh, not exp: a bounded reader keeps the gradients well conditioned, so float32 rounding stays small
    return c.readY ? op.add(op.sum(out), op.sum(op.tanh(y))) : out;
  };
  return { fn, args, inputs: randomInputs(args, c.seed) };
}
