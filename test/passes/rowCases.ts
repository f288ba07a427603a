import fc from "fast-check";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import * as op from "../../dsl/ops.ts";
import type { Backend } from "../../ir/backend.ts";
import { ELEMENTWISE, ROW } from "../../ir/fusedKinds.ts";
import { randomInputs } from "../../testing/inputs.ts";
import { withCaps } from "./targets.ts";

/** Steps of a random row program: on full rows, row scalars, and the row primitives. */
const STEPS = [
  "tanh",
  "silu",
  "mul",
  "add",
  "sub",
  "sum",
  "mean",
  "max",
  "rmsnorm",
  "softmax",
  "logSoftmax",
  "scale",
  "colSum",
  "colMean",
  "oneHot",
] as const;

/** A random row program over x [a, t, d], w [d], s [a, t, 1] and int32 ids [a, t]; two of its values come out. */
export const rowCases = fc.record({
  a: fc.integer({ min: 1, max: 3 }),
  t: fc.integer({ min: 1, max: 5 }),
  d: fc.integer({ min: 2, max: 40 }),
  steps: fc.array(fc.record({ op: fc.constantFrom(...STEPS), x: fc.nat(), y: fc.nat() }), {
    minLength: 1,
    maxLength: 8,
  }),
  extra: fc.nat(),
  seed: fc.integer({ min: 0, max: 1e6 }),
});
/** One drawn case. */
export type RowCase = typeof rowCases extends fc.Arbitrary<infer C> ? C : never;

/** The case's function, its specs and random inputs. */
export function rowProgramCase(c: RowCase) {
  const [a, t, d, one] = [dim("a", c.a), dim("t", c.t), dim("d", c.d), dim("one", 1)];
  const args = [spec([a, t, d]), spec([d]), spec([a, t, one]), spec([a, t], "int32")] as const;
  const fn = (x: Tensor, w: Tensor, s: Tensor, ids: Tensor) => {
    const full: Tensor[] = [x];
    const scalars: Tensor[] = [s];
    const out: Tensor[] = [];
    for (const st of c.steps) {
      const p = full[st.x % full.length]! as Tensor<any>;
      const q = scalars[st.y % scalars.length]! as Tensor<any>;
      let v: Tensor;
      switch (st.op) {
        case "tanh":
        case "silu":
          v = op[st.op](p);
          break;
        case "mul":
        case "add":
        case "sub":
          {
            // never p − p: an exact 0 fed to rmsnorm (whose slope there is 1/√eps) makes its gradient the
            // difference of two large equal terms, which no float32 order computes to a fair tolerance
            const r = full[st.y % full.length]! as Tensor<any>;
            v = st.y % 2 || r === p ? op[st.op](p, q) : op[st.op](p, r);
          }
          break;
        case "scale":
          v = op.mul(p, w as Tensor<any>);
          break;
        case "rmsnorm":
          v = op.rmsnorm(p, w);
          break;
        case "softmax":
        case "logSoftmax":
          v = op[st.op](p);
          break;
        case "oneHot":
          // a one-hot row of int32 ids (some outside [0, d): all zeros)
          v = op.oneHot(ids as Tensor<any>, d) as Tensor;
          break;
        case "colSum":
        case "colMean":
          // a column reduction over [a, t], an output only
          out.push((st.op === "colSum" ? op.sum : op.mean)(p, [0, 1]) as Tensor);
          continue;
        default: {
          // a last-axis reduction, kept as [a, t, 1]
          const r = op[st.op](p, -1) as Tensor<any>;
          const k = op.reshape(r, [a, t, one]) as Tensor;
          scalars.push(k);
          out.push(k);
          continue;
        }
      }
      full.push(v);
      out.push(v);
    }
    if (out.length === 0) out.push(op.mul(x as Tensor<any>, s as Tensor<any>));
    return [out[out.length - 1]!, out[c.extra % out.length]!];
  };
  return { fn, args, inputs: randomInputs(args, c.seed, { intMax: c.d + 1 }) };
}

/** A backend that claims row and elementwise groups but has no kernel for them: it runs them by parts. */
export const claimingRows = <B>(be: Backend<B>): Backend<B> =>
  withCaps({ ...be, prepareFused: undefined }, { fusedChains: true, fusedKinds: new Set([ROW, ELEMENTWISE]) });
