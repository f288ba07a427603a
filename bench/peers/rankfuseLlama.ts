/**
 * The rankfuse side of the peer benchmark, as a process of its own like every peer: reads makeInputs.ts's
 * folder, rebuilds the same model with the same init seed (the weights the peers load from
 * model.safetensors), trains run.json's steps with compileTrainStep + AdamW as train/loop.ts does
 * (native optimizer loop where the addon loaded), and writes the peers' result JSON.
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
import { constantLr, Updater } from "../../train/update.ts";
import { compileTrainStep } from "../../train/step.ts";
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
const step = unwrap(compileTrainStep(model, backend, cfg.batch, cfg.seq));
const native = nativeHostKernels();
const opt = unwrap(
  Updater.create(model, constantLr(spec.lr, spec.weightDecay), {
    totalSteps: spec.steps,
    seed: spec.seed ?? 0,
    hostKernels: E.isRight(native) ? native.right : undefined,
  }),
);
const params = model.init(spec.seed ?? 0);
const batches = readBatches(path.join(dir, "batches.bin"), spec.steps, cfg.batch * cfg.seq);
const losses: number[] = [],
  stepMs: number[] = [];
let peakBytes = 0;
for (let s = 0; s < spec.steps; s++) {
  const t0 = performance.now();
  const { loss, grads, stats } = unwrap(await step.run(params, batches[s]!.inputs, batches[s]!.targets));
  opt.apply(s, params, grads);
  stepMs.push(performance.now() - t0);
  losses.push(loss);
  peakBytes = Math.max(peakBytes, stats.peakBytes);
  console.log(
    `rankfuse-${backend.name} step ${s + 1}/${spec.steps}: loss ${loss.toFixed(6)}  ${stepMs[s]!.toFixed(0)} ms`,
  );
}
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
  notes: `rankfuse compileTrainStep on ${backend.describe()}; AdamW (constant lr ${spec.lr}, wd ${spec.weightDecay} on 2-D weights, no clipping${E.isRight(native) ? ", native optimizer loop" : ""}); peakMemoryBytes: the backend's peak live bytes during a step (params, grads, activations)`,
});
console.log(`rankfuse-${backend.name}: ${tokensPerSec.toFixed(0)} tokens/s (median after step 1) -> ${outFile}`);
