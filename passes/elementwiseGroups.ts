import { sizes } from "../ir/dim.ts";
import { isFused, type Eqn, type Graph, type Node, type Var } from "../ir/graph.ts";
import { greedyGroups } from "./fusionGroups.ts";
import { BINARY_PRIMS, UNARY_PRIMS, type Prim } from "../ir/prims.ts";

/** Primitives an elementwise group may hold: unary and binary ops (numpy broadcasting) and broadcast. */
export const ELEMENTWISE_PRIMS: ReadonlySet<Prim> = new Set<Prim>([...UNARY_PRIMS, ...BINARY_PRIMS, "broadcast"]);

const isF32 = (v: Var) => v.abs.dtype === "float32";
const shapeKey = (v: Var) => sizes(v.abs.dims).join(",");

/** Can this node be a member of a group (a float32 elementwise primitive)? */
const fusible = (e: Node): e is Eqn =>
  !isFused(e) && ELEMENTWISE_PRIMS.has(e.prim) && isF32(e.out) && e.inputs.every(isF32);

/**
 * Maximal groups of elementwise equations that can run as one loop over one output shape: every
 * member's output has the group's shape (an input from outside may be smaller and is read with
 * broadcasting; a constant read only by the group joins it), and every member comes from one phase of
 * a training step (forward or backward): a forward group that waited for a backward op would keep its
 * inputs alive across the step (+9% predicted peak on the tiny full step). Greedy in graph order: an equation joins
 * the groups of the producers of its inputs that share its shape, merging them, unless that would put
 * a cycle through the rest of the graph (a path that leaves the group and comes back, where a group on
 * the way counts as one node: everything it outputs waits for all it reads). Returns each group's
 * equation indices, in graph order, for groups of two or more non-constant members.
 */
export function elementwiseGroups(g: Graph<Node>): number[][] {
  return greedyGroups(g, (e) => (fusible(e) ? [shapeKey(e.out)] : undefined));
}
