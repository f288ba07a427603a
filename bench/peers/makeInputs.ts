/**
 * Inputs for the peer benchmarks (bench/peers/tfjsLlama.ts, bench/peers/torch_llama.py), made with
 * rankfuse's own API so every peer starts from rankfuse's initial weights and sees rankfuse's batches:
 *
 *   DIR/model.safetensors, DIR/config.json   exportWeights(DIR, model, model.init(seed))
 *   DIR/batches.bin                          `steps` × (inputs int32 [batch·seq], targets int32 [batch·seq]),
 *                                            little-endian, from the Gutenberg corpus, BatchSampler seed 0
 *   DIR/run.json                             {method, config, steps, lr, weightDecay, seed}
 *
 * Usage:
 *   npx tsx bench/peers/makeInputs.ts DIR [--method full|cola] [--config tiny|small|60m|...] [--batch N]
 *        [--steps 5] [--lr 3e-3] [--wd 0.01] [--seed 0] [--rankfuse OUT.json] [--rankfuse-steps N] [--backend wasm]
 *
 * --batch overrides the config's batch (the paper configs' 512 sequences do not fit a CPU step).
 *
 * --rankfuse OUT.json also runs rankfuse itself on the same inputs (the training state on --backend,
 * AdamW in the step's plan with the peers' protocol: constant lr, no clipping) and writes the peers' result
 * format, with the bytes each step moved between host and backend; its first loss is rankfuse's initial loss for these weights and the first batch.
 * --rankfuse-steps limits that run (default: all `steps`; 1 gives just the initial loss).
 */
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { resolveConfig } from "../../models/config.ts";
import { makeModel } from "../../methods/index.ts";
import { exportWeights } from "../../methods/exportWeights.ts";
import { loadData } from "../../train/data.ts";
import { BatchSampler } from "../../train/batches.ts";
import { benchState, paramBytes } from "../training.ts";
import { loadBackend } from "../../backends/index.ts";
import { nativeHostKernels } from "../../backends/native/hostKernels.ts";

function parseArgs(argv: string[]) {
  const pos: string[] = [];
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--")) {
      const [k, v] = a.includes("=")
        ? [a.slice(2, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a.slice(2), argv[++i]];
      if (v === undefined) throw new Error(`flag --${k} needs a value`);
      opts[k] = v;
    } else pos.push(a);
  }
  return { pos, opts };
}

const die = (msg: string): never => {
  console.error(`makeInputs: ${msg}`);
  process.exit(2);
};

/** The Right value, or exit 2 with the Left's message. */
function unwrap<T>(e: E.Either<{ message: string }, T>): T {
  if (E.isLeft(e)) return die(e.left.message);
  return e.right;
}

const { pos, opts } = parseArgs(process.argv.slice(2));
const dir =
  pos[0] ??
  die(
    "usage: makeInputs.ts DIR [--method full|cola] [--config tiny] [--batch N] [--steps 5] [--lr 3e-3] [--wd 0.01] [--seed 0] [--rankfuse OUT.json]",
  );
const method = opts.method ?? "full";
const configName = opts.config ?? "tiny";
const steps = Number(opts.steps ?? 5);
const lr = Number(opts.lr ?? 3e-3);
const weightDecay = Number(opts.wd ?? 0.01);
const seed = Number(opts.seed ?? 0);
if (!Number.isInteger(steps) || steps < 1) die(`--steps must be a positive integer, got ${opts.steps}`);

const batch = opts.batch === undefined ? undefined : Number(opts.batch);
if (batch !== undefined && !(Number.isInteger(batch) && batch > 0))
  die(`--batch must be a positive integer, got ${opts.batch}`);
const cfg = unwrap(resolveConfig(configName, { batch }));
const model = unwrap(makeModel(method, cfg));

const params = model.init(seed);
unwrap(exportWeights(dir, model, params, undefined, { force: true })); // regenerates its own inputs
const tokens = unwrap(await loadData({})).train;
const sampler = new BatchSampler(tokens, { seqLen: cfg.seq, batch: cfg.batch, seed: 0 });
const n = cfg.batch * cfg.seq;
const all = new Int32Array(steps * 2 * n);
const batches: { inputs: Int32Array; targets: Int32Array }[] = [];
for (let s = 0; s < steps; s++) {
  const b = sampler.next();
  batches.push(b);
  all.set(b.inputs, s * 2 * n);
  all.set(b.targets, s * 2 * n + n);
}
const le = new Uint8Array(all.byteLength);
const dv = new DataView(le.buffer);
all.forEach((v, i) => dv.setInt32(i * 4, v, true));
fs.writeFileSync(path.join(dir, "batches.bin"), le);

const run = {
  method,
  config: {
    name: cfg.name,
    vocab: cfg.vocab,
    d: cfg.d,
    heads: cfg.heads,
    layers: cfg.layers,
    dFF: cfg.dFF,
    rank: cfg.rank,
    seq: cfg.seq,
    batch: cfg.batch,
    onlyLrAct: cfg.onlyLrAct,
    normEps: cfg.normEps,
    ropeBase: cfg.ropeBase,
  },
  steps,
  lr,
  weightDecay,
  seed,
};
fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(run, null, 2) + "\n");
console.log(
  `makeInputs: ${method} ${cfg.name} (${model.counts.total} params), ${steps} batches of ${cfg.batch}x${cfg.seq} -> ${dir}`,
);

if (opts.rankfuse) {
  const rfSteps = Math.min(steps, Number(opts["rankfuse-steps"] ?? steps));
  const backend = unwrap(await loadBackend(opts.backend ?? "wasm"));
  // as the CLI does: the training state on the backend, one plan per step with AdamW in it
  const native = nativeHostKernels();
  const { state } = unwrap(
    benchState(model, backend, params, {
      batch: cfg.batch,
      seq: cfg.seq,
      totalSteps: rfSteps,
      lr,
      weightDecay,
      seed: 0,
      hostKernels: native._tag === "Right" ? native.right : undefined,
    }),
  );
  const losses: number[] = [];
  const stepMs: number[] = [];
  const written: number[] = [],
    read: number[] = [];
  for (let s = 0; s < rfSteps; s++) {
    const t0 = performance.now();
    const r = unwrap(await state.step(s, batches[s]!.inputs, batches[s]!.targets));
    stepMs.push(performance.now() - t0);
    losses.push(r.loss);
    written.push(r.transfers.written);
    read.push(r.transfers.read);
    console.log(`rankfuse step ${s + 1}: loss ${r.loss.toFixed(6)} (${stepMs[s]!.toFixed(0)} ms)`);
  }
  state.dispose();
  const later = stepMs.slice(2).length ? stepMs.slice(2) : stepMs;
  const sorted = [...later].sort((a, b) => a - b);
  const med =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]!
      : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const out = {
    peer: `rankfuse-${backend.name}`,
    version: "0.1.0",
    method,
    losses,
    stepMs,
    tokensPerSec: (cfg.batch * cfg.seq) / (med / 1000),
    peakMemoryBytes: process.memoryUsage().rss,
    transfers: { written, read },
    paramBytes: paramBytes(params),
    notes: `rankfuse TrainState on ${opts.backend ?? "wasm"}, AdamW on the backend (constant lr ${lr}, wd ${weightDecay} on rank>=2, no clipping); peakMemoryBytes is process RSS at the end; transfers: bytes written to / read from the backend per step`,
  };
  fs.mkdirSync(path.dirname(path.resolve(opts.rankfuse)), { recursive: true });
  fs.writeFileSync(opts.rankfuse, JSON.stringify(out, null, 2) + "\n");
  console.log(`rankfuse: wrote ${opts.rankfuse}`);
}
