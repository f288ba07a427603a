import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import type { Backend } from "../../ir/backend.ts";
import { tfjsBackend } from "../tfjs/backend.ts";

/** tfjs-backend-cpu: plain JavaScript float32 kernels (about 1 GFLOP/s); a second opinion in tests. */
export async function cpuBackend(): Promise<Backend<tf.Tensor>> {
  const be = tfjsBackend("cpu", () => `tfjs-backend-cpu ${tf.version_core}`);
  await be.activate!();
  return be;
}
