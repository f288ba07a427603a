import * as tf from "@tensorflow/tfjs-core";
import type { FusedEqn } from "../../../ir/graph.ts";
import { isMatmulAdd } from "../../../ir/fusedKinds.ts";

/** Axes of an array of rank n with its last two swapped. */
const lastTwoSwapped = (n: number) => [...Array(n).keys()].map((i) => (i < n - 2 ? i : i === n - 2 ? n - 1 : n - 2));

/**
 * y = op(a)·op(b) + c in one tfjs-webgpu matmul program: tfjs's fused matmul with c as its bias, which
 * its matmul programs add in their store (each output element's dot product, then + c, rounded as
 * matmul then add are). Cases as the webgpu matmul kernel: batched operands, transA/transB, and a
 * shared 2-D b under a batched a, whose batch folds into rows (c folded alike).
 */
export function webgpuMatmulAdd(node: FusedEqn): (inputs: readonly tf.Tensor[]) => tf.Tensor[] {
  if (!isMatmulAdd(node)) throw new Error(`webgpu: ${node.params.kind} is not a matmulAdd node`);
  const { transA, transB } = node.params;
  return ([x, y, c]) =>
    tf.tidy(() => {
      const xs = x!.shape,
        ys = y!.shape;
      if (ys.length === 2 && xs.length > 2) {
        const lhs = transA ? tf.transpose(x!, lastTwoSwapped(xs.length)) : x!;
        const K = lhs.shape[lhs.shape.length - 1]!;
        const N = transB ? ys[0]! : ys[1]!;
        const out = tf.fused.matMul({
          a: tf.reshape(lhs, [-1, K]) as tf.Tensor2D,
          b: y as tf.Tensor2D,
          transposeB: transB,
          bias: tf.reshape(c!, [-1, N]),
        });
        return [tf.reshape(out, c!.shape)];
      }
      return [tf.fused.matMul({ a: x!, b: y!, transposeA: transA, transposeB: transB, bias: c! })];
    });
}
