import * as tf from "@tensorflow/tfjs-core";
import type { Prim } from "../../ir/prims.ts";
import { tfKernels, type TfKernel } from "../tfjs/kernels.ts";

/**
 * The tfjs kernel table (shared with cpu and wasm) with the two kernels that read data back on the
 * host replaced: WebGPU has no synchronous read in Node (readSync draws through a canvas), and the
 * round trip would stall the queue anyway. Batched and transposed matmuls run natively in tfjs-webgpu's
 * BatchMatMul, and scatterAdd is tfjs's UnsortedSegmentSum.
 *
 * And one tfjs-webgpu trap: a cast from bool or int32 to float32 is a reinterpretation (same GPU buffer,
 * new dtype), and programs that read the buffer raw (TransposeProgram, which reductions over leading
 * axes use) then fail WGSL validation ("expected f32, got i32"). Every int/bool -> float conversion
 * here goes through a real kernel that writes floats.
 */
const ZERO = () => tf.scalar(0, "float32");
/** int32 -> float32 as a kernel that writes a float buffer (an add reads through the typed getter). */
const toFloat = (t: tf.Tensor) => (t.dtype === "float32" ? t : tf.add(tf.cast(t, "float32"), ZERO()));

export const webgpuKernels: { readonly [P in Prim]: TfKernel<P> } = {
  ...tfKernels,
  equal: ([x, y]) => tf.where(tf.equal(x!, y!), tf.scalar(1, "float32"), ZERO()),
  cast: ([x], _, __, { dtype }) => (dtype === "float32" && x!.dtype !== "float32" ? toFloat(x!) : tf.cast(x!, dtype)),
  oneHot: ([ids], _, out, { depth }) =>
    tf.reshape(
      toFloat(tf.oneHot(tf.reshape(ids!, [-1]), depth.size)),
      out.dims.map((d) => d.size),
    ),
  matmul: ([x, y], _, __, { transA, transB }) => {
    const xs = x!.shape,
      ys = y!.shape;
    if (ys.length === 2 && xs.length > 2) {
      // a shared 2-D weight: fold the batch into rows, one 2-D product
      const lhs = transA
        ? tf.transpose(
            x!,
            [...xs.keys()].map((i) => (i < xs.length - 2 ? i : i === xs.length - 2 ? xs.length - 1 : xs.length - 2)),
          )
        : x!;
      const K = lhs.shape[lhs.shape.length - 1]!;
      const out = tf.matMul(tf.reshape(lhs, [-1, K]) as tf.Tensor2D, y as tf.Tensor2D, false, transB);
      return tf.reshape(out, [...lhs.shape.slice(0, -1), out.shape[1]!]);
    }
    return tf.matMul(x!, y!, transA, transB);
  },
  scatterAdd: ([values, ids], _, out, __) => {
    const [V, D] = out.dims.map((d) => d.size) as [number, number];
    return tf.unsortedSegmentSum(
      tf.reshape(values!, [-1, D]),
      tf.cast(tf.reshape(ids!, [-1]), "int32") as tf.Tensor1D,
      V,
    );
  },
};
