/**
 * The rankfuse side of the peer benchmark, as a process of its own like every peer: reads makeInputs.ts's
 * folder, rebuilds the same model with the same init seed (the weights the peers load from
 * model.safetensors), trains run.json's steps with the training state on the backend (TrainState: one
 * plan per step, AdamW included) as train/loop.ts does, and writes the peers' result JSON with the
 * bytes each step moved between host and backend.
 *
 *   npx tsx bench/peers/rankfuseLlama.ts <inputDir> <out.json> [--backend native|wasm]
 */
import * as E from "fp-ts/lib/Either.js";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { loadBackend } from "../../backends/index.ts";
import { nativeHostKernels } from "../../backends/native/hostKernels.ts";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { frozenMask } from "../../train/step.ts";
import { benchState, paramBytes } from "../training.ts";
import { maxRssBytes, medianAfter, readBatches, readSpec, writeResult } from "./peerFiles.ts";

function unwrap<T>(e: E.Either<{ message: string }, T>): T {
  if (E.isLeft(e)) {
    console.error(`rankfuseLlama: ${e.left.message}`);
    process.exit(2);
  }
  return e.right;
}

const args = process.argv.slice(2);
const bi = args.indexOf("--backend");
const backendName = bi >= 0 ? (args[bi + 1] ?? "native") : "native";
const [dir, outFile] = args.filter((_, i) => i !== bi && i !== bi + 1);
if (!dir || !outFile) {
  console.error("usage: rankfuseLlama.ts <inputDir> <out.json> [--backend native|wasm]");
  process.exit(2);
}

const spec = readSpec(dir);
const c = spec.config;
const cfg = unwrap(
  resolveConfig(c.name ?? "tiny", {
    vocab: c.vocab,
    d: c.d,
    heads: c.heads,
    layers: c.layers,
    dFF: c.dFF,
    rank: c.rank,
    seq: c.seq,
    batch: c.batch,
    onlyLrAct: c.onlyLrAct,
  }),
);
const model = unwrap(makeModel(spec.method, cfg));
const backend = unwrap(await loadBackend(backendName));
const native = nativeHostKernels();
const params = model.init(spec.seed ?? 0);
// the whole step on the backend (gradients and AdamW in one plan, as train/loop.ts), first plan compiled here
const { state } = unwrap(
  benchState(model, backend, params, {
    batch: cfg.batch,
    seq: cfg.seq,
    totalSteps: spec.steps,
    lr: spec.lr,
    weightDecay: spec.weightDecay,
    seed: spec.seed ?? 0,
    hostKernels: E.isRight(native) ? native.right : undefined,
  }),
);
const batches = readBatches(path.join(dir, "batches.bin"), spec.steps, cfg.batch * cfg.seq);
const losses: number[] = [],
  stepMs: number[] = [],
  written: number[] = [],
  read: number[] = [];
// the params and moments on the backend before every step: the step's own peak counts only what it adds
const frozen = frozenMask(model);
const resident = paramBytes(params) + 2 * paramBytes(params.filter((_, i) => !frozen[i]));
let peakBytes = 0;
for (let s = 0; s < spec.steps; s++) {
  const t0 = performance.now();
  const r = unwrap(await state.step(s, batches[s]!.inputs, batches[s]!.targets));
  stepMs.push(performance.now() - t0);
  losses.push(r.loss);
  written.push(r.transfers.written);
  read.push(r.transfers.read);
  peakBytes = Math.max(peakBytes, resident + r.stats.peakBytes);
  console.log(
    `rankfuse-${backend.name} step ${s + 1}/${spec.steps}: loss ${r.loss.toFixed(6)}  ${stepMs[s]!.toFixed(0)} ms  ${r.transfers.written} B in / ${r.transfers.read} B out`,
  );
}
state.dispose();
const tokensPerSec = (cfg.batch * cfg.seq) / (medianAfter(stepMs, 1) / 1000);
writeResult(outFile, {
  peer: `rankfuse-${backend.name}`,
  version: "0.1.0",
  method: spec.method,
  losses,
  stepMs,
  tokensPerSec,
  peakMemoryBytes: peakBytes,
  peakRssBytes: maxRssBytes(),
  transfers: { written, read },
  paramBytes: paramBytes(params),
  notes: `rankfuse TrainState on ${backend.describe()}: one plan per step, AdamW on the backend (constant lr ${spec.lr}, wd ${spec.weightDecay} on 2-D weights, no clipping), params and moments kept there; peakMemoryBytes: the backend's peak live bytes during a step (params, moments, grads, activations); transfers: bytes written to / read from the backend per step`,
});
console.log(`rankfuse-${backend.name}: ${tokensPerSec.toFixed(0)} tokens/s (median after step 1) -> ${outFile}`);
