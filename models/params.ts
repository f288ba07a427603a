import { dim, numel, type Dim } from "../ir/dim.ts";
import { spec, isSpec, type TensorSpec } from "../dsl/spec.ts";
import { flatten, leafPaths, unflatten, type TreeDef } from "../ir/tree.ts";
import { Rng } from "../util/rng.ts";

/** How a parameter starts: N(0, std²) or all ones (norm gains). */
export type Init = { readonly kind: "normal"; readonly std: number } | { readonly kind: "ones" };

/** A parameter declaration: its spec and its init. Models declare a pytree of these. */
export class ParamDecl {
  constructor(
    readonly spec: TensorSpec,
    readonly init: Init,
  ) {}
}
/** Declares a parameter of `dims` with an init. */
export const param = (dims: readonly Dim[], init: Init): ParamDecl => new ParamDecl(spec(dims), init);
/** Init from N(0, std²). */
export const normal = (std: number): Init => ({ kind: "normal", std });
/** Init to all ones (norm gains). */
export const ONES: Init = { kind: "ones" };

/** The flat view of a declared pytree: names (dotted paths), shapes, specs, and how to init each. */
export interface ParamLayout {
  readonly def: TreeDef;
  readonly names: readonly string[];
  readonly shapes: readonly number[][];
  readonly specs: unknown;
  readonly decls: readonly ParamDecl[];
}

/** The flat layout of a declared param tree (names are dotted paths, in flatten order). */
export function layoutOf(tree: unknown): ParamLayout {
  const { leaves, def } = flatten(tree, (x): x is ParamDecl => x instanceof ParamDecl);
  return {
    def,
    names: leafPaths(def),
    shapes: leaves.map((l) => l.spec.dims.map((d) => d.size)),
    specs: unflatten(
      def,
      leaves.map((l) => l.spec),
    ),
    decls: leaves,
  };
}

/** Seeded init: each parameter draws from its own RNG stream, so adding one does not shift the others. */
export function initParams(layout: ParamLayout, seed: number): Float32Array[] {
  return layout.decls.map((d, i) => {
    const n = numel(d.spec.dims);
    if (d.init.kind === "ones") return new Float32Array(n).fill(1);
    const rng = Rng.fromSeed(seed, i + 1);
    const std = d.init.std;
    return Float32Array.from({ length: n }, () => rng.normal() * std);
  });
}

/** The specs of a layout's params, in layout order. */
export const specLeaves = (layout: ParamLayout): TensorSpec[] => flatten(layout.specs, isSpec).leaves;
export { dim };
