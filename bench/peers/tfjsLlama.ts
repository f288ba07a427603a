/**
 * Peer benchmark: the rankfuse model (LLaMA "full" or CoLA "cola") written in plain TensorFlow.js the
 * way its documentation teaches (tf.variable params, tf.variableGrads, tf.train.adam), on
 * @tensorflow/tfjs-backend-wasm, trained from an input folder made by bench/peers/makeInputs.ts (or the
 * lead's rankfuse-side script): model.safetensors + config.json + batches.bin + run.json.
 *
 *   npx tsx bench/peers/tfjsLlama.ts <inputDir> <out.json> [--backend wasm|cpu]
 *
 * Writes {peer, version, method, losses, stepMs, tokensPerSec, peakMemoryBytes, notes}. Deliberately
 * independent of rankfuse: nothing here imports rankfuse code (peerFiles.ts only reads the inputs and walks the weight names).
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as esbuild from "esbuild";
import fs from "node:fs";
import os from "node:os";
import { pathToFileURL } from "node:url";
import path from "node:path";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import {
  loadLlama,
  maxRssBytes,
  readBatches,
  readSafetensors,
  type LlamaLayer,
  type Proj as PeerProj,
  type RunSpec,
} from "./peerFiles.ts";

/**
 * tfjs-core's Node bundle registers no gradients (the union package @tensorflow/tfjs imports them);
 * tfjs's docs say `import "@tensorflow/tfjs-core/dist/register_all_gradients"`, but that ESM file uses
 * extensionless imports Node cannot resolve, so it is bundled once with esbuild (a devDependency) and
 * imported. The copy shares tfjs's global engine, kernel/gradient registries and Tensor class.
 */
async function registerAllGradients(): Promise<void> {
  const req = createRequire(import.meta.url);
  const entry = path.join(
    path.dirname(req.resolve("@tensorflow/tfjs-core/package.json")),
    "dist",
    "register_all_gradients.js",
  );
  const file = path.join(os.tmpdir(), `rankfuse-peer-tfjs-gradients-${tf.version_core}-${process.pid}.mjs`);
  const built = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "node",
    write: false,
    logLevel: "error",
  });
  fs.writeFileSync(file, built.outputFiles[0]!.text);
  try {
    await import(pathToFileURL(file).href);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// ---------- model ----------

type Proj = PeerProj<tf.Variable>;
type Layer = LlamaLayer<tf.Variable>;

const silu = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));

/** x [n, in] -> [n, out]: dense x·W (W [in, out]) or CoLA silu(x·A)·B. */
function project(x: tf.Tensor2D, p: Proj): tf.Tensor2D {
  if ("w" in p) return tf.matMul(x, p.w as tf.Tensor2D);
  return tf.matMul(silu(tf.matMul(x, p.a as tf.Tensor2D)) as tf.Tensor2D, p.b as tf.Tensor2D);
}

function rmsnorm(x: tf.Tensor2D, g: tf.Tensor, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), g) as tf.Tensor2D;
}

function main() {
  const args = process.argv.slice(2);
  const flags = new Map<string, string>();
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++)
    args[i]!.startsWith("--") ? flags.set(args[i]!.slice(2), args[++i]!) : pos.push(args[i]!);
  if (pos.length !== 2) {
    console.error("usage: tfjsLlama.ts <inputDir> <out.json> [--backend wasm|cpu]");
    process.exit(2);
  }
  return { dir: pos[0]!, outFile: pos[1]!, backend: flags.get("backend") ?? "wasm" };
}

async function run() {
  const { dir, outFile, backend } = main();
  if (backend === "wasm") {
    const req = createRequire(import.meta.url);
    setWasmPaths(
      path.dirname(req.resolve("@tensorflow/tfjs-backend-wasm/package.json")) + path.sep + "dist" + path.sep,
    );
  }
  await tf.setBackend(backend);
  await tf.ready();
  await registerAllGradients();

  const spec = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")) as RunSpec;
  const c = spec.config;
  const eps = c.normEps ?? 1e-6,
    base = c.ropeBase ?? 10000;
  const dh = c.d / c.heads,
    half = dh / 2,
    B = c.batch,
    T = c.seq,
    N = B * T;
  const gateSilu = spec.method === "full" || !c.onlyLrAct;
  const st = readSafetensors(path.join(dir, "model.safetensors"));

  // params as tf.variables; decay2d lists the 2-D weights (AdamW decay), norm gains get none
  const vars: tf.Variable[] = [];
  const decay2d: tf.Variable[] = [];
  const load = (key: string, transpose = false): tf.Variable => {
    const t = st.get(key);
    if (!t) throw new Error(`model.safetensors has no tensor ${key}`);
    const v = tf.tidy(() => {
      const x = tf.tensor(t.data, t.shape, "float32");
      return tf.variable(transpose ? tf.transpose(x) : x, true, key);
    });
    vars.push(v);
    if (t.shape.length === 2) decay2d.push(v);
    return v;
  };
  // dense weights (PyTorch Linear [out, in], lm_head [V, d]) are transposed once at load, so projections are x·W
  const { embed, layers, finalNorm, head } = loadLlama(spec, load);

  // constants: RoPE tables [T, dh/2] and the causal mask [T, T] (0 on and below the diagonal, -1e9 above)
  const theta = new Float32Array(T * half);
  for (let t = 0; t < T; t++) for (let i = 0; i < half; i++) theta[t * half + i] = t * Math.pow(base, (-2 * i) / dh);
  const cos = tf.keep(tf.cos(tf.tensor2d(theta, [T, half])));
  const sin = tf.keep(tf.sin(tf.tensor2d(theta, [T, half])));
  const mask = tf.keep(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
  const scale = 1 / Math.sqrt(dh);

  /** [N, d] -> [B, heads, T, dh] */
  const heads = (y: tf.Tensor2D) => tf.transpose(tf.reshape(y, [B, T, c.heads, dh]), [0, 2, 1, 3]);
  /** RoPE, half-split (rotate_half) convention, on [B, heads, T, dh]. */
  const rope = (x: tf.Tensor) => {
    const [x1, x2] = tf.split(x, 2, -1);
    return tf.concat([tf.sub(tf.mul(x1!, cos), tf.mul(x2!, sin)), tf.add(tf.mul(x2!, cos), tf.mul(x1!, sin))], -1);
  };

  function attention(h: tf.Tensor2D, l: Layer): tf.Tensor2D {
    const q = tf.mul(rope(heads(project(h, l.q))), scale);
    const k = rope(heads(project(h, l.k)));
    const v = heads(project(h, l.v));
    const scores = tf.add(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), mask); // [B, H, T, T]
    const att = tf.matMul(tf.softmax(scores), v as tf.Tensor4D); // [B, H, T, dh]
    return project(tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [N, c.d]), l.o);
  }

  function mlp(h: tf.Tensor2D, l: Layer): tf.Tensor2D {
    const g = project(h, l.gate);
    return project(tf.mul(gateSilu ? silu(g) : g, project(h, l.up)) as tf.Tensor2D, l.down);
  }

  const oneHotF32 = (ids: tf.Tensor1D) => tf.cast(tf.oneHot(ids, c.vocab), "float32") as tf.Tensor2D;

  function loss(ids: tf.Tensor1D, targets: tf.Tensor1D): tf.Scalar {
    // tf.gather's gradient needs UnsortedSegmentSum, which tfjs-backend-wasm does not register, so the
    // embedding lookup is a one-hot matmul (the usual workaround; exact, since each row has one 1).
    // oneHot(..., "float32") returns all zeros on tfjs-backend-wasm 4.22, hence int32 + cast.
    let x: tf.Tensor2D = tf.matMul(oneHotF32(ids), embed as tf.Tensor2D); // [N, d]
    for (const l of layers) {
      x = tf.add(x, attention(rmsnorm(x, l.attnNorm, eps), l)) as tf.Tensor2D;
      x = tf.add(x, mlp(rmsnorm(x, l.mlpNorm, eps), l)) as tf.Tensor2D;
    }
    const logits = tf.matMul(rmsnorm(x, finalNorm, eps), head as tf.Tensor2D); // [N, V]
    return tf.losses.softmaxCrossEntropy(oneHotF32(targets), logits) as tf.Scalar; // mean over N
  }

  const batches = readBatches(path.join(dir, "batches.bin"), spec.steps, N);
  const optimizer = tf.train.adam(spec.lr, 0.9, 0.999, 1e-8);
  const decayFactor = 1 - spec.lr * spec.weightDecay;
  const losses: number[] = [];
  const stepMs: number[] = [];
  let peakBytes = 0;

  const trainStep = (s: number): number => {
    const ids = tf.tensor1d(batches[s]!.inputs, "int32");
    const targets = tf.tensor1d(batches[s]!.targets, "int32");
    const { value, grads } = tf.variableGrads(() => loss(ids, targets), vars);
    // tf.train.adam has no decoupled weight decay: apply AdamW's p ← p·(1 − lr·wd) to the 2-D weights
    // by hand, after the gradients and before the Adam update (PyTorch's order)
    if (spec.weightDecay !== 0) for (const v of decay2d) tf.tidy(() => v.assign(tf.mul(v, decayFactor)));
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    const l = value.dataSync()[0]!;
    tf.dispose([value, ids, targets, ...Object.values(grads)]);
    return l;
  };

  for (let s = 0; s < spec.steps; s++) {
    const t0 = performance.now();
    let l: number;
    if (s === 0) {
      // the first step runs under tf.profile to get the peak of tf.memory().numBytes (activations +
      // gradients + params + Adam moments); it is excluded from the median throughput
      const info = await tf.profile(() => ((l = trainStep(s)), tf.scalar(0)));
      tf.dispose(info.result as tf.Tensor);
      // where step 1's time went, by kernel (forward and backward), top 8
      const byKernel = new Map<string, { ms: number; n: number }>();
      for (const k of info.kernels) {
        const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
        e.ms += Number(k.kernelTimeMs) || 0;
        e.n += 1;
        byKernel.set(k.name, e);
      }
      const top = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
      console.log(`step 1 kernels (ms, calls): ${top.map(([k, e]) => `${k} ${e.ms.toFixed(0)} (${e.n})`).join(", ")}`);
      peakBytes = Math.max(info.peakBytes, tf.memory().numBytes);
    } else l = trainStep(s);
    stepMs.push(performance.now() - t0);
    losses.push(l!);
    peakBytes = Math.max(peakBytes, tf.memory().numBytes);
    console.log(`tfjs-${backend} step ${s + 1}/${spec.steps}: loss ${l!.toFixed(6)}  ${stepMs[s]!.toFixed(0)} ms`);
  }

  const later = stepMs.length > 2 ? stepMs.slice(2) : stepMs;
  const sorted = [...later].sort((a, b) => a - b);
  const med =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]!
      : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const features =
    backend === "wasm"
      ? `SIMD ${tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "on" : "off"}, threads ${tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? "on" : "off"} (Node: one core)`
      : "pure-JS kernels";
  const out = {
    peer: `tfjs-${backend}`,
    version: tf.version_core,
    method: spec.method,
    losses,
    stepMs,
    tokensPerSec: N / (med / 1000),
    peakMemoryBytes: peakBytes,
    peakRssBytes: maxRssBytes(),
    notes: [
      `@tensorflow/tfjs-core ${tf.version_core} + tfjs-backend-${backend} (${features}), float32`,
      "tf.variable params, tf.variableGrads, tf.train.adam(lr, 0.9, 0.999, 1e-8)",
      `tf.train.adam has no decoupled weight decay: p <- p*(1 - lr*wd) (wd ${spec.weightDecay}) applied by hand to the 2-D weights after the gradients and before the Adam update (PyTorch AdamW order); none on norm gains`,
      "2-D matMuls on [batch*seq, d]; attention with 4-D batched tf.matMul, causal mask from tf.linalg.bandPart added before tf.softmax; loss tf.losses.softmaxCrossEntropy on one-hot targets",
      "embedding lookup as oneHot(ids)·E: tf.gather's gradient (UnsortedSegmentSum) is not registered in tfjs-backend-wasm",
      "tf.oneHot(..., 'float32') gives all zeros on tfjs-backend-wasm 4.22, so one-hots are int32 then tf.cast",
      "gradients: tfjs-core's Node bundle registers none; dist/register_all_gradients is bundled with esbuild at startup and imported",
      "tfjs-backend-wasm runs BatchMatMul through XNNPACK only without transpose flags; with transposeA/transposeB (every matMul gradient, q·kᵀ) it takes a ~10x slower path (measured 2048x256x688: 35 ms plain vs 360-435 ms transposed), which dominates the step",
      "peakMemoryBytes: peak tf.memory().numBytes during step 1 (tf.profile; that step is slower and excluded from the median)",
      `tokensPerSec: median over steps 3..${spec.steps}`,
    ].join("; "),
  };
  fs.mkdirSync(path.dirname(path.resolve(outFile)), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(out, null, 2) + "\n");
  console.log(
    `tfjs-${backend}: ${out.tokensPerSec.toFixed(0)} tokens/s (median), peak ${(peakBytes / 2 ** 20).toFixed(1)} MiB -> ${outFile}`,
  );
}

await run();
