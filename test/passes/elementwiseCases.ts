import fc from "fast-check";
import { dim, type Dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { ELEMENTWISE } from "../../ir/fusedKinds.ts";
import { BINARY_PRIMS, UNARY_PRIMS } from "../../ir/prims.ts";
import { randomInputs } from "../../testing/inputs.ts";
import { withCaps } from "./targets.ts";

const [UNARY, BINARY] = [UNARY_PRIMS, BINARY_PRIMS];
const CONST = ["scale", "shift"] as const; // x * 1.5, 0.25 - x: literals inside a group
type OpName = (typeof UNARY)[number] | (typeof BINARY)[number] | (typeof CONST)[number];
/** Input shapes over [a, b] that broadcast together: full, a row, a column, a scalar. */
const SHAPES = ["ab", "b", "a1", "1b", "s"] as const;

/** A random program of elementwise ops over three inputs of broadcastable shapes; two of its values come out. */
export const elementwiseCases = fc.record({
  a: fc.integer({ min: 1, max: 5 }),
  b: fc.integer({ min: 1, max: 40 }),
  shapes: fc.array(fc.constantFrom(...SHAPES), { minLength: 3, maxLength: 3 }),
  steps: fc.array(fc.record({ op: fc.constantFrom<OpName>(...UNARY, ...BINARY, ...CONST), x: fc.nat(), y: fc.nat() }), {
    minLength: 1,
    maxLength: 8,
  }),
  extra: fc.nat(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});
/** One drawn case. */
export type ElementwiseCase = typeof elementwiseCases extends fc.Arbitrary<infer C> ? C : never;

/** The case's function, its specs and random inputs. */
export function elementwiseProgram(c: ElementwiseCase) {
  const [a, b, one] = [dim("a", c.a), dim("b", c.b), dim("one", 1)];
  const dims: Record<(typeof SHAPES)[number], Dim[]> = { ab: [a, b], b: [b], a1: [a, one], "1b": [one, b], s: [] };
  const [s0, s1, s2] = c.shapes.map((s) => spec(dims[s]));
  const args = [s0!, s1!, s2!] as const;
  const fn = (...xs: Tensor[]) => {
    const values: Tensor[] = [...xs];
    for (const s of c.steps) {
      const x = values[s.x % values.length]! as Tensor<any>;
      const y = values[s.y % values.length]! as Tensor<any>;
      const name = s.op;
      let v: Tensor;
      if (name === "scale") v = op.mul(x, 1.5);
      else if (name === "shift") v = op.rsub(0.25, x);
      else if ((UNARY as readonly string[]).includes(name))
        v = (op[name as (typeof UNARY)[number]] as (t: Tensor) => Tensor)(x);
      else v = (op[name as (typeof BINARY)[number]] as unknown as (p: Tensor, q: Tensor) => Tensor)(x, y);
      values.push(v);
    }
    const computed = values.slice(xs.length);
    return [computed[computed.length - 1]!, computed[c.extra % computed.length]!];
  };
  return { fn, args, inputs: randomInputs(args, c.seed) };
}

/** A backend that claims elementwise groups but has no kernel for them: it runs them by parts. */
export const claimingElementwise = <B>(be: Backend<B>): Backend<B> =>
  withCaps({ ...be, prepareFused: undefined }, { fusedChains: true, fusedKinds: new Set([ELEMENTWISE]) });
