/**
 * Pytrees: nested arrays and plain objects whose leaves are values of one kind (tensors, specs,
 * host arrays). Params of a model are a pytree; `grad` returns a pytree of the same structure.
 */
export type TreeDef =
  | { readonly kind: "leaf" }
  | { readonly kind: "array"; readonly children: readonly TreeDef[] }
  | { readonly kind: "object"; readonly keys: readonly string[]; readonly children: readonly TreeDef[] };

/** An object literal, or a dictionary without a prototype (`Object.create(null)`, fast-check's records). */
const isPlainObject = (t: unknown): t is object =>
  t !== null &&
  typeof t === "object" &&
  (Object.getPrototypeOf(t) === Object.prototype || Object.getPrototypeOf(t) === null);

export function flatten<L>(tree: unknown, isLeaf: (x: unknown) => x is L): { leaves: L[]; def: TreeDef } {
  const leaves: L[] = [];
  const walk = (t: unknown, path: string): TreeDef => {
    if (isLeaf(t)) {
      leaves.push(t);
      return { kind: "leaf" };
    }
    if (Array.isArray(t)) return { kind: "array", children: t.map((c, i) => walk(c, `${path}[${i}]`)) };
    if (isPlainObject(t)) {
      const keys = Object.keys(t);
      return {
        kind: "object",
        keys,
        children: keys.map((k) => walk((t as Record<string, unknown>)[k], `${path}.${k}`)),
      };
    }
    throw new TypeError(`pytree: unexpected leaf at ${path || "root"}: ${describe(t)}`);
  };
  const def = walk(tree, "");
  return { leaves, def };
}

export function unflatten<L>(def: TreeDef, leaves: readonly L[]): unknown {
  let i = 0;
  const build = (d: TreeDef): unknown => {
    if (d.kind === "leaf") return leaves[i++];
    if (d.kind === "array") return d.children.map(build);
    const out: Record<string, unknown> = {};
    d.keys.forEach((k, j) => (out[k] = build(d.children[j]!)));
    return out;
  };
  const out = build(def);
  if (i !== leaves.length) throw new Error(`pytree: ${leaves.length} leaves for a tree of ${i}`);
  return out;
}

/** Dotted paths of the leaves, in flatten order (`layers.0.wq`): names for checkpoints and exports. */
export function leafPaths(def: TreeDef): string[] {
  const out: string[] = [];
  const walk = (d: TreeDef, path: string[]) => {
    if (d.kind === "leaf") out.push(path.join("."));
    else if (d.kind === "array") d.children.forEach((c, i) => walk(c, [...path, String(i)]));
    else d.children.forEach((c, i) => walk(c, [...path, d.keys[i]!]));
  };
  walk(def, []);
  return out;
}

function describe(t: unknown): string {
  if (t === null) return "null";
  if (typeof t === "object") return (t as object).constructor?.name ?? "object";
  return typeof t;
}
