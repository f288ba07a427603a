import * as tf from "@tensorflow/tfjs-core";
import type { Prim } from "../../dsl/prims.ts";
import { tfKernels, type TfKernel } from "../tfjs/kernels.ts";

/**
 * The tfjs kernel table (shared with cpu and wasm) with the two kernels that read data back on the
 * host replaced: WebGPU has no synchronous read in Node (readSync draws through a canvas), and the
 * round trip would stall the queue anyway. Batched and transposed matmuls run natively in tfjs-webgpu's
 * BatchMatMul, and scatterAdd is tfjs's UnsortedSegmentSum.
 */
export const webgpuKernels: { readonly [P in Prim]: TfKernel<P> } = {
  ...tfKernels,
  matmul: ([x, y], _, __, { transA, transB }) => {
    const xs = x!.shape, ys = y!.shape;
    if (ys.length === 2 && xs.length > 2) {
      // a shared 2-D weight: fold the batch into rows, one 2-D product
      const lhs = transA ? tf.transpose(x!, [...xs.keys()].map((i) => (i < xs.length - 2 ? i : i === xs.length - 2 ? xs.length - 1 : xs.length - 2))) : x!;
      const K = lhs.shape[lhs.shape.length - 1]!;
      const out = tf.matMul(tf.reshape(lhs, [-1, K]) as tf.Tensor2D, y as tf.Tensor2D, false, transB);
      return tf.reshape(out, [...lhs.shape.slice(0, -1), out.shape[1]!]);
    }
    return tf.matMul(x!, y!, transA, transB);
  },
  scatterAdd: ([values, ids], _, out, __) => {
    const [V, D] = out.dims.map((d) => d.size) as [number, number];
    return tf.unsortedSegmentSum(tf.reshape(values!, [-1, D]), tf.cast(tf.reshape(ids!, [-1]), "int32") as tf.Tensor1D, V);
  },
};
