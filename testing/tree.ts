/**
 * The leaves of what the test helpers compare, with their paths: a number, an array of numbers, a
 * typed array, a `{ data, shape }` pair, or nested arrays and plain objects of those (the outputs and
 * gradients a compiled function returns). Paths read as `[1].A`, so a report names the leaf that differs.
 */
import type { TreeDef } from "../ir/tree.ts";

/** Values with a shape, so a report can name an element by its multi-index (`[2, 5]`) and shapes are compared. */
export interface Shaped {
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
}

/** One leaf of a compared tree: its path from the root (`""` for a lone leaf), values, and shape where known. */
export interface PathLeaf {
  readonly path: string;
  readonly data: ArrayLike<number>;
  readonly shape?: readonly number[];
}

const isTypedArray = (x: unknown): x is ArrayLike<number> => ArrayBuffer.isView(x) && !(x instanceof DataView);
const isNumberArray = (x: unknown): x is number[] => Array.isArray(x) && x.every((v) => typeof v === "number");
/** A `{ data, shape }` pair: values with their shape. */
export const isShaped = (x: unknown): x is Shaped =>
  typeof x === "object" &&
  x !== null &&
  "data" in x &&
  "shape" in x &&
  (isTypedArray(x.data) || isNumberArray(x.data)) &&
  isNumberArray(x.shape);

/**
 * The leaves of `tree` in order, each with its path; throws a TypeError naming the path of anything that
 * is neither a leaf nor an array or plain object (a string, null, a Map).
 */
export function pathLeaves(tree: unknown): PathLeaf[] {
  const out: PathLeaf[] = [];
  const walk = (t: unknown, path: string): void => {
    if (typeof t === "number") out.push({ path, data: [t] });
    else if (isTypedArray(t) || isNumberArray(t)) out.push({ path, data: t });
    else if (isShaped(t)) out.push({ path, data: t.data, shape: t.shape });
    else if (Array.isArray(t)) t.forEach((c, i) => walk(c, `${path}[${i}]`));
    else if (typeof t === "object" && t !== null && Object.getPrototypeOf(t) === Object.prototype)
      for (const [k, v] of Object.entries(t)) walk(v, path ? `${path}.${k}` : k);
    else throw new TypeError(`expected numbers or arrays of numbers${path ? ` at ${path}` : ""}, got ${kind(t)}`);
  };
  walk(tree, "");
  return out;
}

function kind(t: unknown): string {
  if (t === null) return "null";
  if (typeof t === "object") return (t as object).constructor?.name ?? "object";
  return typeof t;
}

/**
 * Paths of a pytree definition's leaves, in flatten order, under `root`: `args[0].A`, `out[1]`, `out`
 * (ir/tree.ts's leafPaths gives dotted checkpoint names; these read as the code that indexes them).
 */
export function defPaths(def: TreeDef, root: string): string[] {
  const out: string[] = [];
  const walk = (d: TreeDef, path: string): void => {
    if (d.kind === "leaf") out.push(path);
    else if (d.kind === "array") d.children.forEach((c, i) => walk(c, `${path}[${i}]`));
    else d.children.forEach((c, i) => walk(c, `${path}.${d.keys[i]!}`));
  };
  walk(def, root);
  return out;
}
