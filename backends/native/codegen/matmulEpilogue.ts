import * as E from "fp-ts/lib/Either.js";
import { sizes } from "../../../ir/dim.ts";
import { Graph, type FusedEqn, type Var } from "../../../ir/graph.ts";
import { isMatmulEpilogue } from "../../../ir/fusedKinds.ts";
import { broadcastStrides, matmulSizes, type NativeCtx, type NBuf } from "../kernels.ts";
import { canEmit, emitElementwise } from "./emit.ts";
import { loadGenerated } from "./elementwise.ts";

/** The most extra inputs and outputs the addon's matmulEpilogue takes (kMaxEpilogueInputs). */
const MAX_EPILOGUE_BUFFERS = 32;

/**
 * The epilogue of a matmulEpilogue node as an elementwise node of its own: inputs the product y and
 * the node's extra inputs, body the equations after the matmul, outputs the node's outputs but y.
 */
function epilogueNode(node: FusedEqn): FusedEqn {
  const [mm, ...rest] = node.body.eqns;
  const y = mm!.out;
  const inputs = [y, ...node.inputs.slice(2)];
  const outs = node.outs.filter((v) => v !== y);
  return {
    prim: "fused",
    params: {
      kind: "elementwise",
      inputNames: inputs.map((_, k) => `in${k}`),
      outputNames: outs.map((_, k) => `out${k}`),
    },
    inputs,
    outs,
    out: outs[0]!,
    body: new Graph(inputs, rest as never, outs),
    meta: node.meta,
  };
}

/** The generated C++ of a matmulEpilogue node's epilogue (what RANKFUSE_DEBUG=4 prints). */
export function matmulEpilogueSource(node: FusedEqn): string | undefined {
  const epi = epilogueNode(node);
  return canEmit(epi.body.eqns) ? emitElementwise(epi) : undefined;
}

/**
 * Row and column strides of an input read with broadcasting over the product's rows (every axis but
 * the last, flattened) and columns, or null where its strides do not flatten that way.
 */
function rowColStrides(v: Var, out: readonly number[]): [number, number] | null {
  const s = broadcastStrides(sizes(v.abs.dims), out);
  const lead = out.slice(0, -1);
  let row: number | null = null;
  let span = 1; // rows one step of axis a covers
  for (let a = lead.length - 1; a >= 0; a--) {
    if (lead[a]! !== 1) {
      const st = s[a]!;
      if (row === null) {
        if (st % span !== 0) return null;
        row = st / span;
      } else if (st !== row * span) return null;
    }
    span *= lead[a]!;
  }
  return [row ?? 0, s[out.length - 1] ?? 0];
}

/**
 * The native kernel of a matmulEpilogue node (matmul_epilogue.cc): the addon's GEMM one block of
 * output rows per thread, the generated epilogue on each block while it is in cache. Left (run by
 * parts) when an op has no generated form, the compiler is missing, or an input's broadcast does not
 * flatten to rows and columns.
 */
export function nativeMatmulEpilogue(
  ctx: NativeCtx,
  node: FusedEqn,
): E.Either<string, (inputs: readonly NBuf[]) => NBuf[]> {
  if (!isMatmulEpilogue(node)) return E.left(`${node.params.kind} is not a matmulEpilogue node`);
  const source = matmulEpilogueSource(node);
  if (source === undefined) return E.left("an op in the epilogue has no generated form");
  const y = node.body.eqns[0]!.out;
  const out = sizes(y.abs.dims);
  const extras = node.inputs.slice(2);
  const strides = extras.map((v) => rowColStrides(v, out));
  if (strides.some((s) => s === null)) return E.left("an input's broadcast does not flatten to rows and columns");
  if (extras.length > MAX_EPILOGUE_BUFFERS || node.outs.length > MAX_EPILOGUE_BUFFERS)
    return E.left("too many epilogue inputs or outputs");
  const kernel = loadGenerated(ctx.addon, source);
  if (E.isLeft(kernel)) return kernel;
  const { transA, transB } = node.params;
  const s = matmulSizes(node.inputs[0]!.abs, node.inputs[1]!.abs, transA, transB);
  const sz = Int32Array.from([s.batch, s.M, s.K, s.N, s.shared ? 1 : 0, transA ? 1 : 0, transB ? 1 : 0]);
  const st = Int32Array.from(strides.flatMap((p) => p!));
  const count = out.reduce((p, q) => p * q, 1);
  const keepY = node.outs[0] === y;
  const none = new Float32Array(0);
  return E.right((inputs) => {
    const outs = node.outs.map(() => ctx.pool.f32(count));
    const [a, b, ...rest] = inputs as Float32Array[];
    ctx.addon.runMatmulEpilogue(
      kernel.right,
      [a!, b!, keepY ? outs[0]! : none],
      rest,
      keepY ? outs.slice(1) : outs,
      sz,
      st,
    );
    return outs;
  });
}
