import type { Graph, Node } from "../ir/graph.ts";
import { ROW } from "../ir/fusedKinds.ts";
import { fuseGroups } from "./elementwiseFusion.ts";
import { rowGroups, rowShapeOf } from "./rowGroups.ts";

/**
 * Row fusion: every row group (passes/rowGroups.ts) becomes one fused node of kind `row`, with its row
 * shape in its params (`rowDims`, `width`) and its equations as the body. It runs after chain and
 * attention fusion and before elementwise fusion, which then groups the elementwise ops it left.
 */
export function fuseRows(g: Graph<Node>): Graph<Node> {
  return fuseGroups(g, rowGroups(g), ROW, (body) => ({ ...rowShapeOf(body) }));
}
