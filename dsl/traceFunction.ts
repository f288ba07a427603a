import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { isBound, showShape, type Dim } from "../ir/dim.ts";
import type { Graph } from "../ir/graph.ts";
import { flatten, unflatten, type TreeDef } from "../ir/tree.ts";
import { RankfuseException, type RankfuseError } from "../ir/errors.ts";
import { isTensor, withTrace } from "./trace.ts";
import { isSpec, type TensorSpec, type TensorsOf } from "./spec.ts";
import { eliminateDeadCode } from "./dce.ts";

/** A function traced into a graph, with the tree structure of its inputs and outputs. */
export interface Traced {
  readonly graph: Graph;
  readonly inDef: TreeDef;
  /** The input leaves' specs, every dim bound to a size. */
  readonly inSpecs: readonly TensorSpec[];
  readonly outDef: TreeDef;
}

/**
 * Traces `fn` on abstract inputs (specs whose unbound dims take their sizes from `dims`) into a Graph.
 * User errors raised while tracing come back as a Left; internal errors still throw.
 */
export function trace<const A extends readonly unknown[]>(
  fn: (...args: TensorsOf<A>) => unknown,
  args: A,
  dims: Readonly<Record<string, number>> = {},
): E.Either<RankfuseError, Traced> {
  const { leaves, def: inDef } = flatten(args, isSpec);
  return pipe(
    bindDims(leaves, dims),
    E.flatMap((specs) =>
      E.tryCatch(
        () =>
          withTrace((t) => {
            const ins = specs.map((s) => t.addInput({ dims: s.dims, dtype: s.dtype }));
            const out = fn(...(unflatten(inDef, ins) as TensorsOf<A>));
            const { leaves: outs, def: outDef } = flatten(out, isTensor);
            const { graph, captured } = t.finish(outs);
            if (captured.length) throw new Error("trace: a top-level trace cannot capture tensors");
            return { graph: eliminateDeadCode(graph), inDef, inSpecs: specs, outDef };
          }),
        (e) => {
          if (e instanceof RankfuseException) return e.error;
          throw e;
        },
      ),
    ),
  );
}

function bindDims(
  specs: readonly TensorSpec[],
  dims: Readonly<Record<string, number>>,
): E.Either<RankfuseError, TensorSpec[]> {
  const seen = new Map<string, number>();
  const out: TensorSpec[] = [];
  for (const s of specs) {
    const bound: Dim[] = [];
    for (const d of s.dims) {
      const size = isBound(d) ? d.size : dims[d.name];
      if (size === undefined || !Number.isInteger(size)) {
        return E.left({
          tag: "UnboundDim",
          dim: d.name,
          message: `dim "${d.name}" of input ${showShape(s.dims)} has no size: pass it as compile(..., { dims: { ${d.name}: <size> } })`,
        });
      }
      const prev = seen.get(d.name);
      if (prev !== undefined && prev !== size && d.name !== "_") {
        return E.left({
          tag: "ShapeError",
          op: "input",
          message: `input: dim "${d.name}" is ${prev} in one input and ${size} in another`,
        });
      }
      seen.set(d.name, size);
      bound.push({ name: d.name, size });
    }
    out.push({ dims: bound, dtype: s.dtype } as TensorSpec);
  }
  return E.right(out);
}
