/// <reference types="@webgpu/types" />
import * as tf from "@tensorflow/tfjs-core";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import type { GpuErrorLog } from "../errors.ts";
import { makeShader, type FusedLaunch, type FusedProgram } from "./program.ts";

/**
 * Runs fused programs on tfjs's WebGPU backend: its device, its buffers (tensors in, fresh tensors
 * out) and its command encoder, so fused launches interleave in order with tfjs's own kernels in one
 * queue. tfjs's public runWebGPUProgram binds one output; a fused chain writes several (y and the
 * z, h that backward reads), hence this small runner over the backend's internals (tfjs-backend-webgpu
 * 4.22's recordAndSubmit, step by step; test/backends/webgpuFused*.test.ts notices if they move).
 * Pipelines are compiled once per shaderKey; each dispatch runs inside the error scopes.
 */
interface TfInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  tensorMap: { get(id: object): { resource: GPUBuffer | null } };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(id: object): void;
  makeUniforms(u: { type: "int32"; data: number[] }[]): GPUBufferBinding;
}

export class FusedRunner {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly sources = new Map<string, string>();
  /** Dispatches recorded by this runner (the tests also count at the GPU API, for all kernels). */
  dispatches = 0;
  /** Called with each program as it is dispatched (e.g. the playground's shader panel; `source(p)` is its WGSL). */
  onRun: ((program: FusedProgram) => void) | null = null;

  constructor(
    private readonly gpu: WebGPUBackend,
    private readonly errors: GpuErrorLog,
  ) {}

  /** The complete WGSL of a program (what gets compiled for its key). */
  source(p: FusedProgram): string {
    let s = this.sources.get(p.shaderKey);
    if (s === undefined) this.sources.set(p.shaderKey, (s = makeShader(p)));
    return s;
  }

  /** Programs compiled so far, by key. */
  compiled(): string[] {
    return [...this.pipelines.keys()];
  }

  private pipeline(p: FusedProgram): GPUComputePipeline {
    let pl = this.pipelines.get(p.shaderKey);
    if (!pl) {
      const g = this.gpu as unknown as TfInternals;
      const code = this.source(p);
      const module = g.device.createShaderModule({ code, label: p.shaderKey });
      pl = g.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "_start" },
        label: p.shaderKey,
      });
      this.pipelines.set(p.shaderKey, pl);
    }
    return pl;
  }

  /** A float32 tensor on the GPU with no values yet, for a program to write. */
  output(shape: readonly number[]): tf.Tensor {
    const empty = shape.some((d) => d === 0); // tfjs keeps empty tensors on the host, as runWebGPUProgram does
    const info = this.gpu.makeTensorInfo([...shape], "float32", empty ? new Float32Array(0) : undefined);
    return tf.engine().makeTensorFromTensorInfo(info, this.gpu);
  }

  /** Records one launch into tfjs's current compute pass: outputs bound first, then inputs, then uniforms. */
  run(launch: FusedLaunch, inputs: readonly tf.Tensor[], outputs: readonly tf.Tensor[]): void {
    const { program } = launch;
    if (inputs.length !== program.variableNames.length || outputs.length !== program.outputNames.length) {
      throw new Error(
        `${program.shaderKey}: ${inputs.length} inputs and ${outputs.length} outputs for ${program.variableNames} -> ${program.outputNames}`,
      );
    }
    if (outputs.every((t) => t.size === 0)) return; // nothing to write (tfjs short-circuits empty outputs the same way)
    this.errors.scoped(program.shaderKey, () => {
      const g = this.gpu as unknown as TfInternals;
      const tensors = [...outputs, ...inputs];
      for (const t of tensors) g.uploadToGPU(t.dataId);
      const entries: GPUBindGroupEntry[] = tensors.map((t, i) => ({
        binding: i,
        resource: { buffer: this.bufferOf(t) },
      }));
      if (program.uniformNames.length)
        entries.push({
          binding: tensors.length,
          resource: g.makeUniforms(launch.uniforms.map((v) => ({ type: "int32", data: [v] }))),
        });
      const pipeline = this.pipeline(program);
      const bindGroup = g.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      for (const t of tensors) g.commandQueueOwnedIds.add(t.dataId);
      g.ensureCommandEncoderReady();
      g.computePassEncoder ??= g.commandEncoder!.beginComputePass({});
      g.computePassEncoder.setPipeline(pipeline);
      g.computePassEncoder.setBindGroup(0, bindGroup);
      g.computePassEncoder.dispatchWorkgroups(...launch.dispatch);
      this.dispatches++;
      this.onRun?.(program);
      g.dispatchCountInPass++;
      if ((tf.env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number) <= g.dispatchCountInPass) {
        g.endComputePassEncoder();
        g.submitQueue();
      }
    });
  }

  private bufferOf(t: tf.Tensor): GPUBuffer {
    const res = (this.gpu as unknown as TfInternals).tensorMap.get(t.dataId).resource;
    if (!res) throw new Error("fused kernel: a tensor with no GPU buffer");
    return res;
  }
}
