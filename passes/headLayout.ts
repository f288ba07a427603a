import { Graph, isFused, outsOf, Var, type Eqn, type FusedEqn, type Node } from "../ir/graph.ts";
import {
  ATTENTION,
  ATTENTION_BWD,
  ROPE_HEADS,
  type AttentionParams,
  type ChainCaps,
  type RopeHeadsParams,
} from "../ir/fusedKinds.ts";

/**
 * Layout planning for attention heads: removes the head split and merge transposes around the fused
 * attention nodes. A model splits heads as `[.., T, D] → reshape [.., T, H, Dh] → transpose [.., H, T, Dh]`
 * (then RoPE on q and k, and the 1/√Dh scale on q) and merges them back with the inverse transpose;
 * backward mirrors it. This pass runs after attention fusion and, where every reader of q, k, v (and dO)
 * is an attention node it rewrites, lets those nodes read and write the `[.., T, H, Dh]` layout instead
 * (params `layout: "bthd"`: rows H·Dh apart, head h at offset h·Dh):
 *
 * - `transpose(y)` feeding attention (v, dO) disappears: the node reads y;
 * - `rope(transpose(y)) [· c]` (q, k) becomes one `ropeHeads` node reading y and writing the rotated
 *   (and scaled) value in y's layout;
 * - an output followed by `transpose` (O, dV) is written in the merged layout directly, and one followed
 *   by `[· c →] rope → transpose` (dQ, dK) goes through a `ropeHeads` node instead.
 *
 * The rewritten nodes' bodies stay the plain equations with the transposes made explicit (a transpose
 * in front of each input, one after each output, and transposes around each ropeHeads body), so a
 * backend that runs them by parts computes exactly what the graph did. It is a pattern on the graph,
 * not on a model: any attention whose operands come through such transposes is rewritten; anything else
 * (a value read elsewhere, P kept for another reader) keeps its transposes. Targets list `ropeHeads` in
 * their fused kinds to say they run both it and the `bthd` attention layout.
 */
export function layoutHeads(g: Graph<Node>, caps: ChainCaps): Graph<Node> {
  if (!caps.kinds.has(ROPE_HEADS) || !caps.kinds.has(ATTENTION)) return g;
  const def = new Map<Var, number>();
  const users = new Map<Var, number[]>();
  g.eqns.forEach((e, i) => {
    outsOf(e).forEach((v) => def.set(v, i));
    for (const v of new Set(e.inputs)) users.set(v, [...(users.get(v) ?? []), i]);
  });
  const outputs = new Set(g.outputs);
  const usersOf = (v: Var) => users.get(v) ?? [];
  const plain = (i: number | undefined): Eqn | undefined => {
    const e = i === undefined ? undefined : g.eqns[i];
    return e && !isFused(e) ? e : undefined;
  };
  const sole = (v: Var): number | undefined => {
    const u = usersOf(v);
    return u.length === 1 && !outputs.has(v) ? u[0] : undefined;
  };

  // the attention nodes that may change layout, with how each operand gets there and each result leaves
  const plans = new Map<number, { ins: (Source | null)[]; outs: (Sink | null)[] }>();
  g.eqns.forEach((e, i) => {
    if (!isFused(e) || (e.params.kind !== ATTENTION && e.params.kind !== ATTENTION_BWD)) return;
    if (e.params.outputNames.includes("P")) return;
    const ins = e.inputs.map((x) => sourceOf(x, plain, def, sole));
    const outs = e.outs.map((w) => sinkOf(w, plain, sole));
    if (ins.every(Boolean) && outs.every(Boolean)) plans.set(i, { ins, outs });
  });
  // a value changes layout only when every reader does: drop nodes until that holds
  for (let changed = true; changed;) {
    changed = false;
    for (const i of [...plans.keys()])
      if (g.eqns[i]!.inputs.some((x) => outputs.has(x) || usersOf(x).some((u) => !plans.has(u)))) {
        plans.delete(i);
        changed = true;
      }
  }
  if (plans.size === 0) return g;

  let next = maxVarId(g) + 1;
  const fresh = (like: Var) => new Var(next++, like.abs);
  const removed = new Set<number>();
  const placed = new Map<number, Node[]>(); // nodes placed at (after) an index
  const place = (at: number, n: Node) => placed.set(at, [...(placed.get(at) ?? []), n]);
  const converted = new Map<Var, Var>(); // a [.., H, T, d] operand → its [.., T, H, d] twin

  const twin = (x: Var, src: Source): Var => {
    const known = converted.get(x);
    if (known) return known;
    src.eqns.forEach((j) => removed.add(j));
    if (!src.rope) {
      converted.set(x, src.y);
      return src.y;
    }
    const x2 = fresh(src.y);
    const back: Eqn = { ...src.swap, inputs: [x], out: x2 };
    const body = [...src.eqns.map((j) => plain(j)!), back];
    place(Math.max(...src.eqns), ropeNode(src.y, src.c, x2, body, src.rope));
    converted.set(x, x2);
    return x2;
  };

  for (const [i, p] of plans) {
    const node = g.eqns[i] as FusedEqn;
    const rename = new Map<Var, Var>();
    const head: Eqn[] = [];
    const inputs = node.inputs.map((x, k) => {
      const x2 = twin(x, p.ins[k]!);
      const inner = fresh(x);
      rename.set(x, inner);
      head.push({ ...p.ins[k]!.swap, inputs: [x2], out: inner, meta: node.meta });
      return x2;
    });
    const tail: Eqn[] = [];
    const outs = node.outs.map((w, k) => {
      const sink = p.outs[k]!;
      sink.eqns.forEach((j) => removed.add(j));
      if (!sink.rope) {
        tail.push(plain(sink.eqns[0])!);
        return plain(sink.eqns[0])!.out;
      }
      const w2 = fresh(sink.z);
      tail.push({ ...sink.swap, inputs: [w], out: w2, meta: node.meta });
      // the ropeHeads body: back to [.., H, T, d], then the graph's own equations
      const inner = fresh(w);
      const body: Eqn[] = [
        { ...sink.swap, inputs: [w2], out: inner, meta: plain(sink.eqns[0])!.meta },
        ...sink.eqns.map((j) => {
          const e = plain(j)!;
          return { ...e, inputs: e.inputs.map((v) => (v === w ? inner : v)) };
        }),
      ];
      place(Math.max(...sink.eqns), ropeNode(w2, sink.c, sink.z, body, sink.rope));
      return w2;
    });
    const body = new Graph(
      inputs,
      [...head, ...node.body.eqns.map((e) => ({ ...e, inputs: e.inputs.map((v) => rename.get(v) ?? v) })), ...tail],
      outs,
    );
    const params: AttentionParams = { ...(node.params as AttentionParams), layout: "bthd" };
    removed.add(i);
    place(i, { ...node, params, inputs, outs, out: outs[0]!, body });
  }

  const eqns: Node[] = [];
  g.eqns.forEach((e, i) => {
    if (!removed.has(i)) eqns.push(e);
    eqns.push(...(placed.get(i) ?? []));
  });
  return new Graph<Node>(g.inputs, eqns, g.outputs);
}

/** What a ropeHeads node does besides the rotation. */
interface Rope {
  readonly base: number;
  readonly inverse: boolean;
  readonly scale: RopeHeadsParams["scale"];
}

/** How an operand [.., H, T, d] of attention is made from y [.., T, H, d]: the equations to take. */
interface Source {
  readonly y: Var;
  readonly swap: Eqn; // the head-split transpose
  readonly eqns: readonly number[];
  readonly rope?: Rope;
  readonly c?: Var;
}

/** How a result W [.., H, T, d] of attention becomes z [.., T, H, d]: the equations to take. */
interface Sink {
  readonly z: Var;
  readonly swap: Eqn; // the head-merge transpose
  readonly eqns: readonly number[];
  readonly rope?: Rope;
  readonly c?: Var;
}

type Plain = (i: number | undefined) => Eqn | undefined;
type Sole = (v: Var) => number | undefined;

/** A transpose that swaps the two axes before the last (heads and time) and keeps the others. */
function isHeadSwap(e: Eqn | undefined): boolean {
  if (e?.prim !== "transpose") return false;
  const perm = (e.params as { perm: readonly number[] }).perm;
  const n = perm.length;
  return n >= 3 && perm.every((p, k) => p === (k === n - 3 ? n - 2 : k === n - 2 ? n - 3 : k));
}

const isScalar = (v: Var) => v.abs.dtype === "float32" && v.shape.length === 0;
const ropeOf = (e: Eqn, scale: Rope["scale"]): Rope => {
  const { base, inverse } = e.params as { base: number; inverse: boolean };
  return { base, inverse, scale };
};
/** The other operand of mul(v, c) where c is a float scalar, or undefined. */
function scalarOf(e: Eqn | undefined, v: Var): Var | undefined {
  if (e?.prim !== "mul") return undefined;
  const c = e.inputs[0] === v ? e.inputs[1] : e.inputs[1] === v ? e.inputs[0] : undefined;
  return c && c !== v && isScalar(c) ? c : undefined;
}

function sourceOf(x: Var, plain: Plain, def: Map<Var, number>, sole: Sole): Source | null {
  const ix = def.get(x);
  const e = plain(ix);
  if (!e || x.abs.dtype !== "float32") return null;
  if (isHeadSwap(e)) return { y: e.inputs[0]!, swap: e, eqns: [ix!] };
  // mul(rope(transpose(y)), c): the rope's result only scaled
  let ropeAt = ix!;
  let c: Var | undefined;
  if (e.prim === "mul") {
    const r = e.inputs.find((v) => !isScalar(v));
    c = r && scalarOf(e, r);
    if (!r || !c || sole(r) !== ix) return null;
    ropeAt = def.get(r)!;
  }
  const rope = plain(ropeAt);
  if (rope?.prim !== "rope") return null;
  const t = rope.inputs[0]!;
  const it = def.get(t);
  const swap = plain(it);
  if (!swap || !isHeadSwap(swap) || sole(t) !== ropeAt) return null;
  const eqns = c ? [it!, ropeAt, ix!] : [it!, ropeAt];
  return { y: swap.inputs[0]!, swap, eqns, rope: ropeOf(rope, c ? "after" : "none"), c };
}

function sinkOf(w: Var, plain: Plain, sole: Sole): Sink | null {
  let at = sole(w);
  let e = plain(at);
  if (!e || w.abs.dtype !== "float32") return null;
  if (isHeadSwap(e)) return { z: e.out, swap: e, eqns: [at!] };
  const eqns: number[] = [];
  const c = scalarOf(e, w);
  if (c) {
    eqns.push(at!);
    at = sole(e.out);
    e = plain(at);
  }
  if (e?.prim !== "rope") return null;
  const rope = e;
  eqns.push(at!);
  at = sole(rope.out);
  const swap = plain(at);
  if (!swap || !isHeadSwap(swap)) return null;
  eqns.push(at!);
  return { z: swap.out, swap, eqns, rope: ropeOf(rope, c ? "before" : "none"), c };
}

/** A ropeHeads node: x [.., T, H, d] (and the scalar c) in, y [.., T, H, d] out, computing `body`. */
function ropeNode(x: Var, c: Var | undefined, y: Var, body: Eqn[], rope: Rope): FusedEqn {
  const inputs = c ? [x, c] : [x];
  const params: RopeHeadsParams = {
    kind: ROPE_HEADS,
    ...rope,
    inputNames: c ? ["x", "c"] : ["x"],
    outputNames: ["y"],
  };
  const meta = body.at(-1)!.meta;
  return {
    prim: "fused",
    params,
    inputs,
    outs: [y],
    out: y,
    body: new Graph(inputs, body, [y]),
    meta: { phase: meta.phase, name: meta.name },
  };
}

/** The largest variable id in the graph, fused bodies included. */
function maxVarId(g: Graph<Node>): number {
  let m = Math.max(0, ...g.inputs.map((v) => v.id));
  for (const e of g.eqns) {
    for (const v of outsOf(e)) m = Math.max(m, v.id);
    if (isFused(e)) m = Math.max(m, maxVarId(e.body));
  }
  return m;
}
