import { isFused, outsOf, type Eqn, type Graph, type Node, type Var } from "../ir/graph.ts";

/**
 * How a grouping pass sees one equation: undefined where it cannot be a member, else the keys of the
 * groups it may join (a group's key is the intersection of its members' keys, never empty).
 */
export type GroupKeys = (e: Node, i: number) => readonly string[] | undefined;

/** A float32 constant: it joins the group that reads it when that group is its only reader. */
const isConstant = (e: Node): e is Eqn => !isFused(e) && e.prim === "literal" && e.out.abs.dtype === "float32";

/**
 * Maximal groups of equations that share a key and a phase, built greedily in graph order: an
 * equation joins the groups of the producers of its inputs whose keys it shares (and of its phase,
 * forward or backward: a forward group that waited for a backward op would keep its inputs alive
 * across the step), merging them, unless that would put a cycle through the rest of the graph (a path
 * that leaves the group and comes back, where a group on the way counts as one node: everything it
 * outputs waits for all it reads). `keep` picks the groups to return (at least two non-constant
 * members); then every float32 constant read only by one group's members joins it. Returns each
 * group's equation indices, in graph order.
 */
export function greedyGroups(
  g: Graph<Node>,
  keysOf: GroupKeys,
  keep: (members: readonly number[]) => boolean = () => true,
): number[][] {
  const n = g.eqns.length;
  const producer = new Map<Var, number>();
  g.eqns.forEach((e, i) => outsOf(e).forEach((v) => producer.set(v, i)));
  const consumers: number[][] = g.eqns.map(() => []);
  g.eqns.forEach((e, i) => {
    for (const p of new Set(e.inputs.map((v) => producer.get(v)))) if (p !== undefined) consumers[p]!.push(i);
  });
  const parent: number[] = []; // union-find over group ids
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x]!)));
  const members: number[][] = []; // per root
  const keysOfGroup: string[][] = [];
  const phaseOf: (string | undefined)[] = [];
  const grp: (number | undefined)[] = new Array(n);
  const rootOf = (i: number) => (grp[i] === undefined ? undefined : find(grp[i]!));

  // Would the groups `roots` together with equation i (which reads them) close a cycle? Walks forward
  // from every edge that leaves the merged set, up to i, and fails on coming back into it.
  const cyclic = (roots: readonly number[], i: number): boolean => {
    const inM = new Set<number>([i, ...roots.flatMap((r) => members[r]!)]);
    const seen = new Set<number>();
    const seenGroups = new Set<number>(roots);
    const stack: number[] = [];
    const visitFrom = (j: number) => {
      for (const c of consumers[j]!) if (c <= i && !seen.has(c)) stack.push(c);
    };
    // edges inside the merged set are not paths out of it
    for (const m of inM) for (const c of consumers[m]!) if (c <= i && !inM.has(c)) stack.push(c);
    while (stack.length) {
      const q = stack.pop()!;
      if (seen.has(q)) continue;
      if (inM.has(q)) return true;
      seen.add(q);
      const h = rootOf(q);
      if (h !== undefined && !seenGroups.has(h)) {
        seenGroups.add(h);
        for (const m of members[h]!) {
          seen.add(m);
          visitFrom(m);
        }
      } else visitFrom(q);
    }
    return false;
  };
  const common = (a: readonly string[], b: readonly string[]) => a.filter((k) => b.includes(k));

  g.eqns.forEach((e, i) => {
    const keys = keysOf(e, i);
    if (keys === undefined || keys.length === 0) return;
    const producers = e.inputs.map((v) => producer.get(v)).filter((p) => p !== undefined);
    const cands = [...new Set(producers.map(rootOf).filter((r) => r !== undefined))].filter(
      (r) => common(keysOfGroup[r]!, keys).length > 0 && phaseOf[r] === e.meta.phase,
    );
    // the candidates taken together must still share a key
    const jointKeys = (rs: readonly number[]) => rs.reduce((k, r) => common(k, keysOfGroup[r]!), [...keys]);
    let roots: number[] = [];
    if (cands.length && jointKeys(cands).length && !cyclic(cands, i)) roots = cands;
    else {
      const one = cands.find((r) => !cyclic([r], i));
      if (one !== undefined) roots = [one];
    }
    let root: number;
    if (roots.length === 0) {
      root = parent.length;
      parent.push(root);
      members.push([]);
      keysOfGroup.push([...keys]);
      phaseOf.push(e.meta.phase);
    } else {
      root = roots[0]!;
      keysOfGroup[root] = jointKeys(roots);
      for (const r of roots.slice(1)) {
        parent[r] = root;
        members[root]!.push(...members[r]!);
        members[r] = [];
      }
    }
    members[root]!.push(i);
    grp[i] = root;
  });

  const groups = members.filter((m, r) => find(r) === r && m.length >= 2 && keep(m)).map((m) => [...m]);
  // constants read only by one group's members join it
  const groupOf = new Map<number, number[]>();
  for (const m of groups) for (const i of m) groupOf.set(i, m);
  const readers = new Map<Var, number[]>();
  g.eqns.forEach((e, i) => e.inputs.forEach((v) => readers.set(v, [...(readers.get(v) ?? []), i])));
  const outputs = new Set(g.outputs);
  g.eqns.forEach((e, i) => {
    if (!isConstant(e) || outputs.has(e.out) || groupOf.has(i)) return;
    const rs = readers.get(e.out) ?? [];
    const m = rs.length ? groupOf.get(rs[0]!) : undefined;
    if (m && rs.every((r) => groupOf.get(r) === m)) m.push(i);
  });
  return groups.map((m) => m.sort((x, y) => x - y));
}
