/**
 * Peer benchmark: the rankfuse model (LLaMA "full" or CoLA "cola") written in jax-js (@jax-js/jax) the
 * way its README teaches: params as a JsTree of arrays, `jit(valueAndGrad(loss))`, reference-counted
 * ownership (`.ref` for every reuse), `nn.dotProductAttention({ isCausal })`, on the wasm device
 * (`init("wasm")`: in Node the default probe looks for a browser). AdamW is written by hand as one jitted
 * update (there is no optax for jax-js on npm), with PyTorch's semantics.
 *
 *   npx tsx bench/peers/jaxLlama.ts <inputDir> <out.json>
 *
 * Reads makeInputs.ts's folder (model.safetensors, batches.bin, run.json); writes the peers' result JSON.
 */
import { init, defaultDevice, jit, valueAndGrad, numpy as np, nn, tree } from "@jax-js/jax";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { performance } from "node:perf_hooks";
import {
  loadLlama,
  maxRssBytes,
  medianAfter,
  readBatches,
  readSafetensors,
  readSpec,
  writeResult,
  type Proj as PeerProj,
} from "./peerFiles.ts";

type Arr = np.Array;

const [dir, outFile] = process.argv.slice(2);
if (!dir || !outFile) {
  console.error("usage: jaxLlama.ts <inputDir> <out.json>");
  process.exit(2);
}
// its package.json is not in "exports": find it next to the resolved entry point
const pkgJson = path.join(path.dirname(createRequire(import.meta.url).resolve("@jax-js/jax")), "..", "package.json");
const version = (JSON.parse(fs.readFileSync(pkgJson, "utf8")) as { version: string }).version;
await init("wasm");
defaultDevice("wasm");

const spec = readSpec(dir);
const c = spec.config;
const eps = c.normEps ?? 1e-6,
  base = c.ropeBase ?? 10000;
const B = c.batch,
  T = c.seq,
  N = B * T,
  H = c.heads,
  dh = c.d / c.heads,
  half = dh / 2;
const gateSilu = spec.method === "full" || !c.onlyLrAct;
const st = readSafetensors(path.join(dir, "model.safetensors"));

// ---------- params: a flat list (one JsTree leaf each) and the names that index it ----------
const names: string[] = [];
const leaves: Arr[] = [];
const load = (key: string, transpose = false): number => {
  const t = st.get(key);
  if (!t) throw new Error(`model.safetensors has no tensor ${key}`);
  let data = t.data,
    shape = t.shape;
  if (transpose) {
    // PyTorch Linear [out, in] -> [in, out], so every projection is x·W
    const [o, i] = shape as [number, number];
    data = new Float32Array(o * i);
    for (let r = 0; r < o; r++) for (let k = 0; k < i; k++) data[k * o + r] = t.data[r * i + k]!;
    shape = [i, o];
  }
  names.push(key);
  leaves.push(np.array(data).reshape(shape));
  return leaves.length - 1;
};
type Proj = PeerProj<number>;
const { embed: embedIx, layers: layerIx, finalNorm: finalNormIx, head: headIx } = loadLlama(spec, load);

// RoPE tables [T, 1, dh/2], broadcast over [B, T, H, dh/2]
const theta = new Float32Array(T * half);
for (let t = 0; t < T; t++) for (let i = 0; i < half; i++) theta[t * half + i] = t * Math.pow(base, (-2 * i) / dh);
// and the causal mask [T, T]: 0 on and below the diagonal, -1e9 above (added to the scores)
const maskData = new Float32Array(T * T);
for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskData[i * T + j] = -1e9;
const consts = {
  cos: np.cos(np.array(theta).reshape([T, 1, half])),
  sin: np.sin(np.array(theta).reshape([T, 1, half])),
  mask: np.array(maskData).reshape([T, T]),
};
type Consts = typeof consts;

// ---------- the model; every function consumes its array arguments (jax-js ownership) ----------
const project = (x: Arr, p: Proj, w: Arr[]): Arr =>
  "w" in p ? np.matmul(x, w[p.w]!) : np.matmul(nn.silu(np.matmul(x, w[p.a]!)), w[p.b]!);

const rmsnorm = (x: Arr, g: Arr): Arr => {
  const ms = np.mean(np.square(x.ref), -1, { keepdims: true });
  return x.mul(np.reciprocal(np.sqrt(ms.add(eps)))).mul(g);
};

/** [B, T, H, dh] -> [B, H, T, dh] */
const heads = (x: Arr): Arr => x.transpose([0, 2, 1, 3]);

/** Half-split RoPE on [B, T, H, dh]. */
const rope = (x: Arr, k: Consts): Arr => {
  const [x1, x2] = np.split(x, 2, -1) as [Arr, Arr];
  const a = x1.ref.mul(k.cos.ref).sub(x2.ref.mul(k.sin.ref));
  const b = x2.mul(k.cos.ref).add(x1.mul(k.sin.ref));
  return np.concatenate([a, b], -1);
};

function lossFn(w: Arr[], k: Consts, ids: Arr, targets: Arr): Arr {
  let x = np.take(w[embedIx]!, ids, 0); // [N, d]
  for (const l of layerIx) {
    const h = rmsnorm(x.ref, w[l.attnNorm]!);
    const q = heads(rope(project(h.ref, l.q, w).reshape([B, T, H, dh]), k)).mul(1 / Math.sqrt(dh));
    const kk = heads(rope(project(h.ref, l.k, w).reshape([B, T, H, dh]), k));
    const v = heads(project(h, l.v, w).reshape([B, T, H, dh]));
    // nn.dotProductAttention would be the idiomatic call, but it goes through np.einsum, which uses
    // iterator helpers (matchAll(...).map) that Node 20 lacks: written with matmul instead
    const scores = np.matmul(q, np.swapaxes(kk, -1, -2)).add(k.mask.ref); // [B, H, T, T]
    const att = np.matmul(nn.softmax(scores, -1), v).transpose([0, 2, 1, 3]).reshape([N, c.d]);
    x = x.add(project(att, l.o, w));
    const m = rmsnorm(x.ref, w[l.mlpNorm]!);
    const g = project(m.ref, l.gate, w);
    x = x.add(project((gateSilu ? nn.silu(g) : g).mul(project(m, l.up, w)), l.down, w));
  }
  tree.dispose(k);
  const logits = np.matmul(rmsnorm(x, w[finalNormIx]!), w[headIx]!); // [N, V]
  return nn
    .logSoftmax(logits, -1)
    .mul(nn.oneHot(targets, c.vocab))
    .sum()
    .mul(-1 / N);
}

/** PyTorch's AdamW (decay on 2-D weights only), one fused update; c1 = lr/(1-β1^t), c2 = 1/sqrt(1-β2^t). */
const decay = 1 - spec.lr * spec.weightDecay;
const adamw = jit((p: Arr[], g: Arr[], m: Arr[], v: Arr[], c1: Arr, c2: Arr) => {
  const out = { p: [] as Arr[], m: [] as Arr[], v: [] as Arr[] };
  p.forEach((pi, i) => {
    const gi = g[i]!;
    const mi = m[i]!.mul(0.9).add(gi.ref.mul(0.1));
    const vi = v[i]!.mul(0.999).add(np.square(gi).mul(0.001));
    const denom = np.sqrt(vi.ref).mul(c2.ref).add(1e-8);
    const pd = pi.ndim === 2 ? pi.mul(decay) : pi;
    out.p.push(pd.sub(mi.ref.mul(c1.ref).div(denom)));
    out.m.push(mi);
    out.v.push(vi);
  });
  c1.dispose();
  c2.dispose();
  return out;
});

const step = jit(valueAndGrad(lossFn));
const batches = readBatches(path.join(dir, "batches.bin"), spec.steps, N);
let params = leaves;
let m = params.map((p) => np.zerosLike(p.ref));
let v = params.map((p) => np.zerosLike(p.ref));
const losses: number[] = [],
  stepMs: number[] = [];
for (let s = 0; s < spec.steps; s++) {
  const t0 = performance.now();
  const ids = np.array(batches[s]!.inputs, { dtype: np.int32 });
  const tg = np.array(batches[s]!.targets, { dtype: np.int32 });
  const [loss, grads] = step(tree.ref(params), tree.ref(consts), ids, tg) as unknown as [Arr, Arr[]];
  const t = s + 1;
  const next = adamw(params, grads, m, v, np.array(spec.lr / (1 - 0.9 ** t)), np.array(1 / Math.sqrt(1 - 0.999 ** t)));
  ({ p: params, m, v } = next);
  const l = (await loss.data())[0]!;
  await Promise.all(params.map((p) => p.ref.data())); // the update has run before the clock stops
  stepMs.push(performance.now() - t0);
  losses.push(l);
  console.log(`jax-js step ${t}/${spec.steps}: loss ${l.toFixed(6)}  ${stepMs[s]!.toFixed(0)} ms`);
}

const rss = maxRssBytes();
writeResult(outFile, {
  peer: "jax-js-wasm",
  version,
  method: spec.method,
  losses,
  stepMs,
  tokensPerSec: N / (medianAfter(stepMs, 1) / 1000),
  peakMemoryBytes: rss,
  peakRssBytes: rss,
  notes: [
    `@jax-js/jax ${version}, init("wasm"), float32; ${typeof (globalThis as { Worker?: unknown }).Worker === "undefined" ? "1 thread (its wasm threads need a global Worker, which Node lacks)" : "threads available"}`,
    "jit(valueAndGrad(loss)) over a flat list of params; AdamW by hand as one jitted update (no optax on npm)",
    "embedding np.take; attention by hand (matmul q·kᵀ + additive causal mask, nn.softmax, ·v): nn.dotProductAttention needs np.einsum, which uses iterator helpers Node 20 lacks; loss logSoftmax·oneHot",
    "peakMemoryBytes: process max RSS (jax-js reports no allocator peak)",
  ].join("; "),
});
console.log(
  `jax-js: ${(N / (medianAfter(stepMs, 1) / 1000)).toFixed(0)} tokens/s (median after step 1), max RSS ${(rss / 2 ** 20).toFixed(0)} MiB -> ${outFile}`,
);
