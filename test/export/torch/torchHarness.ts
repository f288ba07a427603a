/**
 * What the PyTorch export tests share: tiny configs, rankfuse's loss and gradients of a method at a
 * fixed batch (float64 on the reference backend, float32 on wasm), and running /usr/bin/python3 on a
 * script with the package's folder on its path.
 */
import * as E from "fp-ts/lib/Either.js";
import { spawnSync } from "node:child_process";
import { loadBackend } from "../../../backends/index.ts";
import { valueAndGrad } from "../../../dsl/autodiff.ts";
import { dim } from "../../../ir/dim.ts";
import { spec } from "../../../dsl/spec.ts";
import type { Tensor } from "../../../dsl/trace.ts";
import { unflatten } from "../../../ir/tree.ts";
import { makeModel } from "../../../methods/index.ts";
import { resolveConfig, type ModelConfig } from "../../../models/config.ts";
import { specLeaves } from "../../../models/params.ts";
import { compile } from "../../../run/compile.ts";
import { frozenMask, mergeByMask, splitByMask } from "../../../train/step.ts";
import type { TrainableModel } from "../../../train/scheme.ts";
import { TORCH_PYTHON } from "../../helpers/requirements.ts";

/** A tiny config: d 16, 2 layers, byte vocabulary, sequences of 8. */
export function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  const c = resolveConfig("tiny", { d: 16, layers: 2, heads: 2, dFF: 32, vocab: 256, rank: 4 });
  if (E.isLeft(c)) throw new Error(c.left.message);
  return { ...c.right, seq: 8, batch: 4, ...over };
}

/** A built-in method's model at a config; throws where the method refuses it. */
export function modelOf(method: string, cfg: ModelConfig): TrainableModel {
  const m = makeModel(method, cfg);
  if (E.isLeft(m)) throw new Error(m.left.message);
  return m.right;
}

/** A batch of `batch` × `seq` ids (`inputs`) and next-token targets drawn from `seed`. */
export function fixedBatch(batch: number, seq: number, vocab: number, seed: number) {
  let s = seed * 7919 + 17;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648), s % vocab);
  const stream = Int32Array.from({ length: batch * (seq + 1) }, next);
  const inputs = new Int32Array(batch * seq),
    targets = new Int32Array(batch * seq);
  for (let r = 0; r < batch; r++)
    for (let j = 0; j < seq; j++) {
      inputs[r * seq + j] = stream[r * (seq + 1) + j]!;
      targets[r * seq + j] = stream[r * (seq + 1) + j + 1]!;
    }
  return { inputs, targets };
}

/** rankfuse's loss and the gradient of every trainable param (null for frozen ones), on a backend. */
export async function rankfuseLossAndGrads(
  model: TrainableModel,
  params: readonly Float32Array[],
  ids: Int32Array,
  targets: Int32Array,
  backendName: "reference" | "wasm",
): Promise<{ loss: number; grads: (Float64Array | Float32Array | null)[] }> {
  const backend = await loadBackend(backendName);
  if (E.isLeft(backend)) throw new Error(backend.left.message);
  const mask = frozenMask(model);
  const [b, t] = [dim("b", model.config.batch), dim("t", model.config.seq)];
  const fn = (tr: Tensor[], fr: Tensor[], x: Tensor, y: Tensor) =>
    valueAndGrad((p: Tensor[]) => model.loss(unflatten(model.layout.def, mergeByMask(mask, p, fr)), x, y))(tr);
  const c = compile(fn, {
    args: [...splitByMask(mask, specLeaves(model.layout)), spec([b, t], "int32"), spec([b, t], "int32")] as const,
    backend: backend.right,
  });
  if (E.isLeft(c)) throw new Error(c.left.message);
  const r = await c.right.run(...(splitByMask(mask, params) as [never, never]), ids, targets);
  if (E.isLeft(r)) throw new Error(r.left.message);
  const [loss, grads] = r.right.out as unknown as [Float64Array, (Float64Array | Float32Array)[]];
  return {
    loss: loss[0]!,
    grads: mergeByMask<Float64Array | Float32Array | null>(
      mask,
      grads,
      mask.filter(Boolean).map(() => null),
    ),
  };
}

/** Runs `code` with /usr/bin/python3 (torch's threads capped at 1); throws with its stderr when it fails. */
export function python(code: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(TORCH_PYTHON, ["-c", code, ...args], {
    encoding: "utf8",
    timeout: 300_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: "1", ...env },
  });
  if (r.status !== 0) throw new Error(`python failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** The largest |a - b| over two arrays, relative to max(1e-3, the largest |b|). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0,
    m = 1e-3;
  for (let i = 0; i < a.length; i++) ((d = Math.max(d, Math.abs(a[i]! - b[i]!))), (m = Math.max(m, Math.abs(b[i]!))));
  return d / m;
}
