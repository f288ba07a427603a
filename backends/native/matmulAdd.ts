import { numel } from "../../ir/dim.ts";
import type { FusedEqn } from "../../ir/graph.ts";
import { isMatmulAdd } from "../../ir/fusedKinds.ts";
import { matmulSizes, type NativeCtx, type NBuf } from "./kernels.ts";

/**
 * The native kernel of a matmulAdd node, y = op(a)·op(b) + c: the addon's matmul, each output tile
 * starting from c's values and accumulating (gemm.cc), so the add costs no launch or pass of its own.
 */
export function nativeMatmulAdd(ctx: NativeCtx, node: FusedEqn): (inputs: readonly NBuf[]) => NBuf[] {
  if (!isMatmulAdd(node)) throw new Error(`native: ${node.params.kind} is not a matmulAdd node`);
  const { transA, transB } = node.params;
  const [a, b] = node.inputs;
  const s = matmulSizes(a!.abs, b!.abs, transA, transB);
  const n = numel(node.out.abs.dims);
  return ([x, w, c]) => {
    const y = ctx.pool.f32(n);
    ctx.addon.matmulAdd(
      x as Float32Array,
      w as Float32Array,
      c as Float32Array,
      y,
      s.batch,
      s.M,
      s.K,
      s.N,
      s.shared,
      transA,
      transB,
    );
    return [y];
  };
}
