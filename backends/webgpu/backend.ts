/// <reference types="@webgpu/types" />
/**
 * The webgpu backend: TensorFlow.js's WebGPU kernels (tfjs-backend-webgpu) on a GPUDevice that rankfuse
 * obtains itself, every dispatch inside WebGPU error scopes (see errors.ts).
 *
 * Getting the device (this file never does; it takes one):
 * - Node (node.ts): the npm package `webgpu` (Dawn). Dawn's default backend first (Vulkan on Linux,
 *   Metal, D3D12), taken if it is a hardware adapter; else Dawn's OpenGL backend in compatibility mode
 *   on Mesa (`EGL_PLATFORM=surfaceless`, `create(['backend=opengl'])`,
 *   `requestAdapter({featureLevel: 'compatibility'})`), which is llvmpipe on machines without a GPU.
 *   Node has no `navigator.gpu`, which tfjs checks for, so node.ts installs Dawn's globals and a
 *   `navigator.gpu` before calling `webgpuBackend`.
 * - Browser (browser.ts): `navigator.gpu.requestAdapter()`; Chromium needs `--enable-unsafe-webgpu`
 *   where WebGPU is not on by default (headless Linux: SwiftShader).
 * Either way `webgpuBackend(adapter, route)` opens the device with limits raised to the adapter's.
 *
 * A custom WGSL kernel (the fused low-rank chains) is a tfjs WebGPUProgram run through the tfjs backend,
 * which compiles it once per `shaderKey` (plus input shapes/dtypes) and caches the pipeline:
 *
 *   const program: WebGPUProgram = {
 *     variableNames: ["X", "A"],          // inputs, readable in WGSL as getX(...) / X[i]
 *     outputShape: [n, r],
 *     shaderKey: `colaDown_${n}_${r}`,    // everything that changes the WGSL text goes in the key
 *     dispatchLayout: { x: [0, 1] },       // flat layout: webgpu_util.flatDispatchLayout(outputShape)
 *     dispatch: [Math.ceil((n * r) / 64), 1, 1],  // or webgpu_util.computeDispatch(layout, shape, wg)
 *     workgroupSize: [64, 1, 1],
 *     size: true,                           // adds uniforms.size (the output length)
 *     getUserCode: () => `
 *       fn main(index : i32) {              // tfjs wraps this in @compute fn _start
 *         if (index < uniforms.size) { setOutputAtIndex(index, ...); }
 *       }`,
 *   };
 *   const out = errors.scoped("colaDown", () => tfWebgpu.runWebGPUProgram(program, [x, a], "float32"));
 *   // runWebGPUProgram returns a TensorInfo; wrap it with tf.engine().makeTensorFromTensorInfo(out)
 *
 * `tfWebgpu` is the backend's `gpu` field (the tfjs WebGPUBackend), `errors` its `errors` field; a
 * broken shader then surfaces as a RankfuseException at the next read instead of silent zeros
 * (test/backends/webgpuErrors.test.ts does exactly this). `caps.maxWorkgroupMemory` is the device's
 * maxComputeWorkgroupStorageSize, for tiling decisions.
 *
 * rankfuse's fused low-rank chain kernels (fused/) write several outputs (y and the z, h backward
 * reads), which runWebGPUProgram cannot bind, so they are programs of the same shape run by
 * fused/runner.ts on the same device, buffers and command encoder (`fused` below). fused/tiling.ts
 * picks their tiles from the device limits and `caps.maxFusedRank` from what fits its workgroup memory.
 * Fused elementwise groups (passes/elementwiseFusion.ts) are one generated program each
 * (fused/elementwise.ts), run the same way; a group with more buffers than the device binds runs op by op.
 * Row groups (passes/rowFusion.ts) are one program each generated from their row program (fused/row.ts),
 * run by parts where they have none; matmul accumulate epilogues (y = op(a)·op(b) + c) are tfjs's fused
 * matmul with c as its bias, added in the matmul's store (fused/matmulAdd.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { RankfuseException } from "../../ir/errors.ts";
import { PRIMS, type Prim } from "../../ir/prims.ts";
import { isFused, type Node } from "../../ir/graph.ts";
import type { Backend, HostTensor, Kernel } from "../../ir/backend.ts";
import type { TfKernel } from "../tfjs/kernels.ts";
import { requestFullDevice, showAdapter, summarize, type AdapterSummary } from "./adapter.ts";
import { cacheUniforms } from "./uniformCache.ts";
import { GpuErrorLog } from "./errors.ts";
import { webgpuKernels } from "./kernels.ts";
import { fusedPrograms, webgpuFused, WEBGPU_FUSED_KINDS } from "./fused/lowrank.ts";
import { elementwisePrograms, webgpuElementwise } from "./fused/elementwise.ts";
import { rowPrograms, webgpuRow } from "./fused/row.ts";
import { webgpuMatmulAdd } from "./fused/matmulAdd.ts";
import { ELEMENTWISE, isElementwise, isMatmulAdd, isRow, MATMUL_ADD, ROW } from "../../ir/fusedKinds.ts";
import { byParts } from "../../run/lower.ts";
import { FusedRunner } from "./fused/runner.ts";
import { maxFusedRankOf } from "./fused/tiling.ts";

export interface WebgpuBackend extends Backend<tf.Tensor> {
  readonly adapter: AdapterSummary;
  readonly device: GPUDevice;
  /** The tfjs WebGPUBackend, for running custom WebGPUPrograms. */
  readonly gpu: WebGPUBackend;
  readonly errors: GpuErrorLog;
  /** Runs rankfuse's fused WGSL programs (fused/): pipelines by shaderKey, dispatches counted. */
  readonly fused: FusedRunner;
  /** The WGSL of a fused node's programs, each program's text once per process (RANKFUSE_DEBUG=4). */
  kernelSource(node: Node): string | undefined;
}

const TF_NAME = "webgpu";

/**
 * Opens a device on `adapter` (limits raised to the adapter's) and wraps it as rankfuse's webgpu backend,
 * registered as tfjs's "webgpu" backend (replacing any other). `route` says how the adapter was reached.
 */
export async function webgpuBackend(gpuAdapter: GPUAdapter, route: string): Promise<WebgpuBackend> {
  const adapter = summarize(gpuAdapter, route);
  const device = await requestFullDevice(gpuAdapter);
  // tfjs registers its own "webgpu" factory on import where navigator.gpu exists (browsers); ours owns the device
  if (tf.findBackendFactory(TF_NAME)) tf.removeBackend(TF_NAME);
  const gpu = new WebGPUBackend(device, gpuAdapter.info);
  cacheUniforms(gpu); // uniforms stay on the device: a step uploads only its batch
  tf.registerBackend(TF_NAME, () => gpu);
  // small ops would otherwise run on the CPU when their inputs are there: parity should test the GPU kernels
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  const errors = new GpuErrorLog(device, TF_NAME);
  const fused = new FusedRunner(gpu, errors);
  // fused chains up to the largest rank whose rank block fits this device's workgroup memory (fused/tiling.ts)
  const maxFusedRank = maxFusedRankOf(device.limits);
  const shown = new Set<string>();
  const be: WebgpuBackend = {
    name: TF_NAME,
    caps: {
      prims: new Set<Prim>(PRIMS),
      fusedChains: maxFusedRank > 0,
      fusedKinds: new Set([...WEBGPU_FUSED_KINDS, ELEMENTWISE, ROW, MATMUL_ADD]),
      maxFusedRank,
      float64: false,
      maxWorkgroupMemory: device.limits.maxComputeWorkgroupStorageSize,
    },
    adapter,
    device,
    gpu,
    errors,
    activate: async () => {
      if (tf.getBackend() !== TF_NAME) await tf.setBackend(TF_NAME);
    },
    write: (host: HostTensor) => {
      const data = host.data instanceof Float64Array ? Float32Array.from(host.data) : host.data;
      return tf.tensor(data, [...host.shape], host.dtype);
    },
    read: async (buf) => {
      await errors.check();
      const data = (await buf.data()) as Float32Array | Int32Array;
      await errors.check();
      return data;
    },
    free: (buf) => buf.dispose(),
    prepare: (eqn): Kernel<tf.Tensor> => {
      const k = webgpuKernels[eqn.prim] as TfKernel<Prim>;
      const abs = eqn.inputs.map((v) => v.abs);
      return (inputs) =>
        errors.scoped(eqn.prim, () => {
          try {
            return tf.tidy(() => k(inputs, abs, eqn.out.abs, eqn.params));
          } catch (e) {
            const msg = (e as Error).message;
            if (/not registered/.test(msg))
              throw new RankfuseException({
                tag: "UnsupportedOp",
                op: eqn.prim,
                backend: TF_NAME,
                message: `op ${eqn.prim} has no kernel on the webgpu backend: ${msg}`,
              });
            throw e;
          }
        });
    },
    prepareFused: (node) => {
      if (isMatmulAdd(node)) {
        const k = webgpuMatmulAdd(node);
        return (inputs) => errors.scoped("matmulAdd", () => k(inputs));
      }
      // a row group with no row program, or wider than the device's storage bindings, runs by parts
      if (isRow(node))
        return rowPrograms(node, device.limits).length ? webgpuRow(fused, device.limits, node) : byParts(be, node);
      if (!isElementwise(node)) return webgpuFused(fused, device.limits, node);
      // a group wider than the device's storage bindings (or with an op WGSL lacks) runs op by op
      return elementwisePrograms(node, device.limits).length
        ? webgpuElementwise(fused, device.limits, node)
        : byParts(be, node);
    },
    kernelSource: (node) => {
      if (!isFused(node)) return undefined;
      const programs = isElementwise(node)
        ? elementwisePrograms(node, device.limits)
        : isRow(node)
          ? rowPrograms(node, device.limits)
          : WEBGPU_FUSED_KINDS.has(node.params.kind)
            ? fusedPrograms(node, device.limits)
            : [];
      if (!programs.length) return undefined;
      return programs
        .map((p) =>
          shown.has(p.shaderKey) ? `// ${p.shaderKey}: WGSL shown above` : (shown.add(p.shaderKey), fused.source(p)),
        )
        .join("\n");
    },
    fused,
    dispatch: (kernel, inputs) => kernel(inputs),
    liveBytes: () => tf.memory().numBytes,
    describe: () => `tfjs-backend-webgpu ${tf.version_core} on ${showAdapter(adapter)}`,
  };
  await be.activate!();
  return be;
}
