import { sizes } from "../ir/dim.ts";
import { isFused, type Eqn, type Graph, type Node, type Var } from "../ir/graph.ts";
import type { Prim } from "../ir/prims.ts";

/** Primitives an elementwise group may hold: unary and binary ops (numpy broadcasting) and broadcast. */
export const ELEMENTWISE_PRIMS: ReadonlySet<Prim> = new Set<Prim>([
  "neg",
  "exp",
  "log",
  "sqrt",
  "tanh",
  "sigmoid",
  "silu",
  "gelu",
  "relu",
  "dsilu",
  "dgelu",
  "drelu",
  "add",
  "sub",
  "mul",
  "div",
  "maximum",
  "equal",
  "broadcast",
]);

const isF32 = (v: Var) => v.abs.dtype === "float32";
const shapeKey = (v: Var) => sizes(v.abs.dims).join(",");

/** Can this node be a member of a group (a float32 elementwise primitive)? */
const fusible = (e: Node): e is Eqn =>
  !isFused(e) && ELEMENTWISE_PRIMS.has(e.prim) && isF32(e.out) && e.inputs.every(isF32);
/** A float32 constant: it joins the group that reads it when that group is its only reader. */
const isConstant = (e: Node): e is Eqn => !isFused(e) && e.prim === "literal" && isF32(e.out);

/** A growable bit set over group ids. */
class Bits {
  words: Uint32Array;
  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32) || 1);
  }
  add(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  or(o: Bits): void {
    for (let k = 0; k < this.words.length; k++) this.words[k]! |= o.words[k]!;
  }
}

/**
 * Maximal groups of elementwise equations that can run as one loop over one output shape: every
 * member's output has the group's shape (an input from outside may be smaller and is read with
 * broadcasting; a scalar constant read only by the group joins it). Greedy in graph order: an
 * equation joins the groups of the producers of its inputs that share its shape, merging them, unless
 * that would put a cycle through the rest of the graph (a path that leaves the group and comes back),
 * which the ancestor sets below rule out. Returns each group's equation indices, in graph order, for
 * groups of two or more non-constant members.
 */
export function elementwiseGroups(g: Graph<Node>): number[][] {
  const n = g.eqns.length;
  const producer = new Map<Var, number>();
  g.eqns.forEach((e, i) => {
    if (isFused(e)) e.outs.forEach((v) => producer.set(v, i));
    else producer.set(e.out, i);
  });
  const parent: number[] = []; // union-find over group ids
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x]!)));
  const aliases: number[][] = []; // raw ids that find() maps to each root
  const shapeOf: string[] = [];
  const ext: Bits[] = []; // per root: groups that the group's outside producers depend on
  const grp: (number | undefined)[] = new Array(n);
  const anc: Bits[] = new Array(n); // groups each equation depends on
  const meets = (b: Bits, roots: readonly number[]) => roots.some((r) => aliases[r]!.some((a) => b.has(a)));

  g.eqns.forEach((e, i) => {
    const a = new Bits(n);
    const producers = [...new Set(e.inputs.map((v) => producer.get(v)).filter((p) => p !== undefined))];
    for (const p of producers) {
      a.or(anc[p]!);
      if (grp[p] !== undefined) a.add(grp[p]!);
    }
    anc[i] = a;
    if (!fusible(e)) return;
    const key = shapeKey(e.out);
    const cands = [...new Set(producers.filter((p) => grp[p] !== undefined).map((p) => find(grp[p]!)))].filter(
      (r) => shapeOf[r] === key,
    );
    const outside = (roots: readonly number[]) => producers.filter((p) => !roots.includes(find(grp[p] ?? -1)));
    const valid = (roots: readonly number[]) =>
      outside(roots).every((p) => !meets(anc[p]!, roots)) &&
      roots.every(
        (r) =>
          !meets(
            ext[r]!,
            roots.filter((o) => o !== r),
          ),
      );
    const join = valid(cands) ? cands : (cands.find((r) => valid([r])) ?? null);
    const roots = join ? (Array.isArray(join) ? join : [join]) : [];
    let root: number;
    if (roots.length === 0) {
      root = parent.length;
      parent.push(root);
      aliases.push([root]);
      shapeOf.push(key);
      ext.push(new Bits(n));
    } else {
      root = roots[0]!;
      for (const r of roots.slice(1)) {
        parent[r] = root;
        aliases[root]!.push(...aliases[r]!);
        ext[root]!.or(ext[r]!);
      }
    }
    for (const p of outside(roots.length ? roots : [root])) {
      ext[root]!.or(anc[p]!);
      if (grp[p] !== undefined) ext[root]!.add(grp[p]!);
    }
    grp[i] = root;
  });

  const members = new Map<number, number[]>();
  grp.forEach((r, i) => {
    if (r === undefined) return;
    const k = find(r);
    members.set(k, [...(members.get(k) ?? []), i]);
  });
  const groups = [...members.values()].filter((m) => m.length >= 2);
  // constants read only by one group's members join it
  const groupOf = new Map<number, number[]>();
  for (const m of groups) for (const i of m) groupOf.set(i, m);
  const readers = new Map<Var, number[]>();
  g.eqns.forEach((e, i) => e.inputs.forEach((v) => readers.set(v, [...(readers.get(v) ?? []), i])));
  const outputs = new Set(g.outputs);
  g.eqns.forEach((e, i) => {
    if (!isConstant(e) || outputs.has(e.out)) return;
    const rs = readers.get(e.out) ?? [];
    const m = rs.length ? groupOf.get(rs[0]!) : undefined;
    if (m && rs.every((r) => groupOf.get(r) === m)) m.push(i);
  });
  return groups.map((m) => m.sort((x, y) => x - y));
}
