import type { Graph, Node } from "../ir/graph.ts";
import { ROW } from "../ir/fusedKinds.ts";
import { fuseGroups } from "./elementwiseFusion.ts";
import { rowGroups, rowShapeOf } from "./rowGroups.ts";

/**
 * Row fusion: every row group (passes/rowGroups.ts) becomes one fused node of kind `row`, with its row
 * shape in its params (`rowDims`, `width`) and its equations as the body. It runs after chain and
 * attention fusion and before elementwise fusion, which then groups the elementwise ops it left.
 * `columns`: the target's row kernels also take column reductions and oneHot of int ids (ROW_COLUMNS).
 */
export function fuseRows(g: Graph<Node>, opts: { readonly columns?: boolean } = {}): Graph<Node> {
  return fuseGroups(g, rowGroups(g, opts), ROW, (body) => ({ ...rowShapeOf(body) }));
}
