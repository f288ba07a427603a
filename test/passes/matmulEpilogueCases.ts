import fc from "fast-check";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import { randomInputs } from "../../testing/inputs.ts";

/**
 * A random `add(matmul, c)`: leading batch dims (none, one, two), a weight shared by the batch or one
 * per index, either operand transposed, c an input or a second product (a gradient's accumulation),
 * either operand order, and an elementwise op after the add so the sum is read by something else.
 */
export const matmulEpilogueCases = fc.record({
  batch: fc.constantFrom<readonly number[]>([], [3], [2, 2]),
  m: fc.integer({ min: 1, max: 40 }),
  k: fc.integer({ min: 1, max: 40 }),
  n: fc.integer({ min: 1, max: 40 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  shared: fc.boolean(),
  c: fc.constantFrom("input", "product"),
  swap: fc.boolean(),
  after: fc.constantFrom("none", "silu", "mulInput"),
  seed: fc.integer({ min: 0, max: 1e6 }),
});
/** One drawn case. */
export type MatmulEpilogueCase = typeof matmulEpilogueCases extends fc.Arbitrary<infer C> ? C : never;

/** The case's function, its specs and random inputs. */
export function matmulEpilogueProgram(c: MatmulEpilogueCase) {
  const [m, k, n] = [dim("m", c.m), dim("k", c.k), dim("n", c.n)];
  const b: Dim[] = c.batch.map((s, i) => dim(`b${i}`, s));
  // a transposed shared weight with a batched transposed input has no matmul: transA keeps its own b
  const shared = c.shared && !c.transA;
  const aDims = [...b, ...(c.transA ? [k, m] : [m, k])];
  const wDims = [...(shared ? [] : b), ...(c.transB ? [n, k] : [k, n])];
  const args = [
    spec(aDims),
    spec(wDims),
    spec([...b, m, n]),
    spec([...b, m, k]),
    spec([...(shared ? [] : b), k, n]),
  ] as const;
  const fn = (x: Tensor, w: Tensor, e: Tensor, x2: Tensor, w2: Tensor) => {
    const y = op.matmulT(x, w, c.transA, c.transB);
    const other = c.c === "input" ? e : op.matmul(x2 as Tensor<any>, w2 as Tensor<any>);
    const sum = c.swap
      ? op.add(other as Tensor<any>, y as Tensor<any>)
      : op.add(y as Tensor<any>, other as Tensor<any>);
    if (c.after === "silu") return op.silu(sum);
    if (c.after === "mulInput") return op.mul(sum, e as Tensor<any>);
    return sum;
  };
  return { fn, args, inputs: randomInputs(args, c.seed) };
}
