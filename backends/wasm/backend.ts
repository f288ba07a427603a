import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";
import type { Backend } from "../../ir/backend.ts";
import { tfjsBackend } from "../tfjs/backend.ts";

let pathsSet = false;

/**
 * tfjs-backend-wasm with SIMD (XNNPACK): the portable CPU path. In Node the .wasm files are read from
 * the installed package; threads do not start in Node, so it runs on one core.
 */
export async function wasmBackend(): Promise<Backend<tf.Tensor>> {
  if (!pathsSet && typeof process !== "undefined" && process.versions?.node) {
    const req = createRequire(import.meta.url);
    setWasmPaths(
      path.dirname(req.resolve("@tensorflow/tfjs-backend-wasm/package.json")) + path.sep + "dist" + path.sep,
    );
    pathsSet = true;
  }
  const be = tfjsBackend(
    "wasm",
    () =>
      `tfjs-backend-wasm ${tf.version_core}, SIMD ${tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "on" : "off"}, threads ${tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? "on" : "off"}`,
  );
  await be.activate!();
  return be;
}
