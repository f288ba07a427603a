/**
 * A function's vector-Jacobian product as one scalar program: the outputs weighted by fixed random
 * cotangents w and summed, Σᵢ sum(outᵢ ⊙ wᵢ), with its gradient with respect to every float input.
 * That gradient is the vjp of w, so every element of every input gradient gets its own weight: the
 * program the equivalence checks and the fusion benchmark compile to cover a layer's backward pass.
 */
import * as E from "fp-ts/lib/Either.js";
import { sizes } from "../ir/dim.ts";
import type { RankfuseError } from "../ir/errors.ts";
import { flatten, unflatten } from "../ir/tree.ts";
import { spec, type TensorSpec, type TensorsOf } from "../dsl/spec.ts";
import { isTensor, type Tensor } from "../dsl/trace.ts";
import { trace } from "../dsl/traceFunction.ts";
import { valueAndGrad } from "../dsl/autodiff.ts";
import * as op from "../dsl/ops.ts";
import { Rng } from "../util/rng.ts";
import { defPaths } from "./tree.ts";

/** The vjp program of a function, with the names and shapes of what it differentiates. */
export interface VjpProgram {
  /** `(inputs, w) => [Σᵢ sum(outᵢ ⊙ wᵢ), [d/d input for each float input leaf]]`; compile it with `args`. */
  readonly fn: (inputs: unknown, w: Tensor[]) => [Tensor<readonly []>, Tensor[]];
  /** The specs `fn` takes: the function's own args, then one cotangent spec per float output. */
  readonly args: readonly [unknown, TensorSpec[]];
  /** Paths (`args[0].A`) and shapes of the float inputs, in the order of the gradients. */
  readonly gradPaths: readonly string[];
  readonly gradShapes: readonly (readonly number[])[];
  /** Paths (`out`, `out[1]`) and shapes of the outputs, and which are float (weighted by a cotangent). */
  readonly outPaths: readonly string[];
  readonly outShapes: readonly (readonly number[])[];
}

/**
 * The vjp program of `fn` at `args` (unbound dims sized by `dims`); a Left when `fn` does not trace or
 * has no float output to differentiate.
 */
export function vjpProgram<const A extends readonly unknown[]>(
  fn: (...args: TensorsOf<A>) => unknown,
  args: A,
  dims?: Readonly<Record<string, number>>,
): E.Either<RankfuseError, VjpProgram> {
  const traced = trace(fn, args, dims);
  if (E.isLeft(traced)) return traced;
  const { graph, inSpecs, inDef, outDef } = traced.right;
  const outs = graph.outputs;
  const floatOuts = outs.flatMap((v, i) => (v.abs.dtype === "float32" ? [i] : []));
  const floatIns = inSpecs.flatMap((s, i) => (s.dtype === "float32" ? [i] : []));
  if (!floatOuts.length || !floatIns.length) {
    return E.left({
      tag: "InputError",
      message: `vjp: the function needs a float input and a float output to differentiate (it has ${floatIns.length} float inputs, ${floatOuts.length} float outputs)`,
    });
  }
  const wSpecs = floatOuts.map((i) => spec(outs[i]!.abs.dims));
  const call = fn as unknown as (...xs: unknown[]) => unknown;
  const program = (inputs: unknown, w: Tensor[]): [Tensor<readonly []>, Tensor[]] => {
    const { leaves, def } = flatten(inputs, isTensor);
    const loss = (xs: Tensor[]): Tensor<readonly []> => {
      const all = leaves.slice();
      floatIns.forEach((i, k) => (all[i] = xs[k]!));
      const out = flatten(call(...(unflatten(def, all) as unknown[])), isTensor).leaves;
      const terms = floatOuts.map((i, k) => op.sum(op.mul(out[i]! as Tensor, w[k]! as never)) as Tensor<readonly []>);
      return terms.reduce((a, b) => op.add(a, b as never) as Tensor<readonly []>);
    };
    return valueAndGrad(loss)(floatIns.map((i) => leaves[i]!));
  };
  const inPaths = defPaths(inDef, "args");
  return E.right({
    fn: program,
    args: [args, wSpecs] as const,
    gradPaths: floatIns.map((i) => inPaths[i]!),
    gradShapes: floatIns.map((i) => sizes(inSpecs[i]!.dims)),
    outPaths: defPaths(outDef, "out"),
    outShapes: outs.map((v) => sizes(v.abs.dims)),
  });
}

/** Standard normal cotangents for a program's float outputs, rounded to float32, from `seed`. */
export function cotangents(p: VjpProgram, seed: number): Float32Array[] {
  const rng = Rng.fromSeed(seed);
  return p.args[1].map((s) =>
    Float32Array.from({ length: s.dims.reduce((n, d) => n * d.size, 1) }, () => rng.normal()),
  );
}
