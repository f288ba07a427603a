import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import type { WebGPUProgram } from "@tensorflow/tfjs-backend-webgpu";
import { RankfuseException } from "../../ir/errors.ts";
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { backendRequirement } from "../helpers/requirements.ts";

/**
 * The webgpu backend's contract beyond parity: a custom WGSL program (the way fused kernels plug in,
 * as backend.ts documents) runs and is cached by its shader key, and a GPU validation error, which
 * WebGPU does not throw, becomes a RankfuseException naming the kernel instead of silent zeros.
 * Skipped without an adapter unless RANKFUSE_REQUIRE_WEBGPU is set (CI), which makes that a failure.
 */
const webgpu = await backendRequirement("webgpu");

/** y = 2x + 1 over a flat array, written as a tfjs WebGPUProgram. */
function affineProgram(n: number, body = "setOutputAtIndex(index, 2.0 * getA(index) + 1.0);"): WebGPUProgram {
  return {
    variableNames: ["A"],
    outputShape: [n],
    shaderKey: `rankfuseTestAffine_${body.length}`,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(n / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) { ${body} }
      }`,
  };
}

describe.skipIf(webgpu.skip)(webgpu.title("webgpu backend"), () => {
  const be = () => webgpu.get() as WebgpuBackend;

  it("reports its adapter and raises workgroup memory to the adapter's", () => {
    const b = be();
    expect(b.describe()).toContain(b.adapter.software ? "software adapter" : "hardware adapter");
    expect(b.caps.maxWorkgroupMemory).toBe(b.device.limits.maxComputeWorkgroupStorageSize);
    expect(b.device.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256); // compat mode's default is 128
  });

  it("runs a custom WGSL program through the tfjs backend", async () => {
    const b = be();
    await b.activate!();
    const n = 100;
    const x = b.write({ shape: [n], dtype: "float32", data: Float32Array.from({ length: n }, (_, i) => i - 50) });
    const out = tf
      .engine()
      .makeTensorFromTensorInfo(
        b.errors.scoped("affine", () => b.gpu.runWebGPUProgram(affineProgram(n), [x], "float32")),
      );
    const got = await b.read(out);
    expect(Array.from(got)).toEqual(Array.from({ length: n }, (_, i) => 2 * (i - 50) + 1));
    b.free(x);
    b.free(out);
  });

  it("turns a WGSL validation error into a RankfuseException naming the kernel", async () => {
    const b = be();
    await b.activate!();
    const x = b.write({ shape: [8], dtype: "float32", data: new Float32Array(8) });
    const broken = affineProgram(8, "setOutputAtIndex(index, getA(index) + notDeclared);");
    const out = tf
      .engine()
      .makeTensorFromTensorInfo(b.errors.scoped("brokenKernel", () => b.gpu.runWebGPUProgram(broken, [x], "float32")));
    const err = await b.read(out).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RankfuseException);
    expect((err as RankfuseException).error.tag).toBe("UnsupportedOp");
    expect((err as Error).message).toMatch(/webgpu: GPU error in brokenKernel: validation: .*notDeclared/);
    // the error is reported once; the backend keeps working afterwards
    const y = b.write({ shape: [3], dtype: "float32", data: Float32Array.from([1, 2, 3]) });
    expect(Array.from(await b.read(y))).toEqual([1, 2, 3]);
    [x, out, y].forEach((t) => b.free(t));
  });
});
