/**
 * The traced loss graph as the modeling file's structure: its fused nodes replaced by their parts, and its
 * equations cut into the part before the first block, one part per decoder block (the equations between
 * the first that reads a param of `blocks.i` and the first that reads one of `blocks.i+1`), and the
 * rest. Where the params do not follow that order (a method whose blocks share or interleave params),
 * there are no blocks and the whole loss is one forward.
 */
import { isFused, type Eqn, type Graph, type Node, type Var } from "../../ir/graph.ts";

/** A graph's primitive equations, fused nodes replaced by their bodies (body variables renamed to the node's). */
export function inlineFused(g: Graph<Node>): Eqn[] {
  const rename = new Map<Var, Var>();
  const out: Eqn[] = [];
  const walk = (eqns: readonly Node[]) => {
    for (const e of eqns) {
      if (!isFused(e)) {
        const inputs = e.inputs.map((v) => rename.get(v) ?? v);
        out.push({ ...e, inputs, out: rename.get(e.out) ?? e.out });
        continue;
      }
      e.body.inputs.forEach((v, i) => rename.set(v, rename.get(e.inputs[i]!) ?? e.inputs[i]!));
      e.body.outputs.forEach((v, i) => rename.set(v, e.outs[i]!));
      walk(e.body.eqns);
    }
  };
  walk(g.eqns);
  return out;
}

/** The block a param name belongs to (`blocks.3.q.A` -> 3), or -1. */
export const blockOf = (name: string): number => {
  const m = /^blocks\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
};

/** Where the blocks' equations start and end: `starts[i]` .. `starts[i+1]`, the last ending at `end`. */
export interface BlockCuts {
  readonly starts: readonly number[];
  readonly end: number;
}

/**
 * The cuts of `eqns` into blocks, given which block each param (a graph input) belongs to; null where
 * the equations that read a block's params are not one run between its neighbours'.
 */
export function cutBlocks(
  eqns: readonly Eqn[],
  paramBlock: ReadonlyMap<Var, number>,
  blocks: number,
): BlockCuts | null {
  if (blocks === 0) return null;
  const reads = (e: Eqn) => new Set(e.inputs.map((v) => paramBlock.get(v)).filter((b) => b !== undefined));
  const first = Array.from({ length: blocks }, () => -1);
  const last = Array.from({ length: blocks }, () => -1);
  eqns.forEach((e, k) =>
    reads(e).forEach((b) => {
      if (b < 0) return;
      if (first[b] < 0) first[b] = k;
      last[b] = k;
    }),
  );
  if (first.some((f) => f < 0)) return null;
  for (let i = 1; i < blocks; i++) if (!(first[i]! > last[i - 1]!)) return null;
  // the last block runs to the first equation after its last param read that reads a non-block param
  let end = last[blocks - 1]! + 1;
  while (end < eqns.length && ![...reads(eqns[end]!)].some((b) => b === -1)) end++;
  return { starts: first, end };
}
