/**
 * What every JavaScript peer reads and writes (bench/peers/README.md): the input folder made by
 * makeInputs.ts and the result JSON. Independent of rankfuse on purpose, so a peer's code shows what a
 * user of that framework would write and nothing of rankfuse's.
 */
import fs from "node:fs";
import path from "node:path";

export interface RunSpec {
  method: "full" | "cola";
  config: {
    name?: string;
    vocab: number;
    d: number;
    heads: number;
    layers: number;
    dFF: number;
    rank: number;
    seq: number;
    batch: number;
    onlyLrAct: boolean;
    normEps?: number;
    ropeBase?: number;
  };
  steps: number;
  lr: number;
  weightDecay: number;
  seed?: number;
}

/** One peer's run, the format bench/peers.ts and compareLosses.ts read. */
export interface PeerResult {
  peer: string;
  version: string;
  method: string;
  losses: number[];
  stepMs: number[];
  tokensPerSec: number;
  /** What the framework itself reports as its peak (tf.memory, rankfuse's pool), or the RSS where it reports nothing. */
  peakMemoryBytes: number;
  /** The whole process's maximum resident set (getrusage): the one memory figure every peer shares. */
  peakRssBytes?: number;
  /**
   * Bytes that crossed between the host and the framework's device per step (host → device: written,
   * device → host: read), where the framework keeps its training state on a device of its own (rankfuse's
   * backends); absent for peers that train in their own process's memory.
   */
  transfers?: { written: number[]; read: number[] };
  /** Bytes of the model's params (float32), the scale for `transfers`. */
  paramBytes?: number;
  notes?: string;
}

export const readSpec = (dir: string): RunSpec =>
  JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8")) as RunSpec;

/** A projection's weights: dense W [in, out], or CoLA's A [in, r] and B [r, out]. */
export type Proj<T> = { w: T } | { a: T; b: T };
/** One decoder block's weights. */
export interface LlamaLayer<T> {
  attnNorm: T;
  mlpNorm: T;
  q: Proj<T>;
  k: Proj<T>;
  v: Proj<T>;
  o: Proj<T>;
  gate: Proj<T>;
  up: Proj<T>;
  down: Proj<T>;
}

/**
 * Walks model.safetensors's HuggingFace LLaMA names (as makeInputs.ts writes them) in one fixed order,
 * loading each with the peer's own `load`. Dense weights (projections, lm_head) are PyTorch Linear
 * [out, in]: they ask to be transposed, so every projection is x·W.
 */
export function loadLlama<T>(
  spec: RunSpec,
  load: (key: string, transpose?: boolean) => T,
): { embed: T; layers: LlamaLayer<T>[]; finalNorm: T; head: T } {
  const proj = (pre: string): Proj<T> =>
    spec.method === "full"
      ? { w: load(`${pre}.weight`, true) }
      : { a: load(`${pre}.cola_a`), b: load(`${pre}.cola_b`) };
  const embed = load("model.embed_tokens.weight");
  const layers = Array.from({ length: spec.config.layers }, (_, i): LlamaLayer<T> => {
    const p = `model.layers.${i}.`;
    return {
      attnNorm: load(`${p}input_layernorm.weight`),
      q: proj(`${p}self_attn.q_proj`),
      k: proj(`${p}self_attn.k_proj`),
      v: proj(`${p}self_attn.v_proj`),
      o: proj(`${p}self_attn.o_proj`),
      mlpNorm: load(`${p}post_attention_layernorm.weight`),
      gate: proj(`${p}mlp.gate_proj`),
      up: proj(`${p}mlp.up_proj`),
      down: proj(`${p}mlp.down_proj`),
    };
  });
  const finalNorm = load("model.norm.weight");
  const head = load("lm_head.weight", true);
  return { embed, layers, finalNorm, head };
}

/** A minimal safetensors reader: u64 LE header length, JSON header, little-endian data (F32 only). */
export function readSafetensors(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (e.dtype !== "F32") throw new Error(`${name}: dtype ${e.dtype}, only F32 is supported`);
    const [s, t] = e.data_offsets;
    const data = new Float32Array((t - s) / 4);
    const dv = new DataView(buf.buffer, buf.byteOffset + 8 + n + s, t - s);
    for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(i * 4, true);
    out.set(name, { shape: e.shape, data });
  }
  return out;
}

/** `steps` × (inputs int32 [n], targets int32 [n]), little-endian. */
export function readBatches(file: string, steps: number, n: number): { inputs: Int32Array; targets: Int32Array }[] {
  const buf = fs.readFileSync(file);
  if (buf.length < steps * 2 * n * 4)
    throw new Error(`${file}: ${buf.length} bytes, need ${steps * 2 * n * 4} for ${steps} batches`);
  const at = (off: number) => {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = buf.readInt32LE(off + i * 4);
    return a;
  };
  return Array.from({ length: steps }, (_, s) => ({ inputs: at(s * 8 * n), targets: at(s * 8 * n + 4 * n) }));
}

/** Median of the steps after the first `skip` (warm-up), or of all when there are no others. */
export function medianAfter(xs: readonly number[], skip: number): number {
  const later = xs.length > skip ? xs.slice(skip) : [...xs];
  const s = [...later].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The process's own peak resident set in bytes: VmHWM from /proc/self/status. Not getrusage's maxRSS:
 * Linux carries the parent's peak across fork+exec into it, so every peer spawned by a 1.4 GB bench
 * process read as at least 1.4 GB. Falls back to maxRSS where /proc is missing.
 */
export function maxRssBytes(): number {
  try {
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kib) return Number(kib) * 1024;
  } catch {
    // no /proc (not Linux)
  }
  return process.resourceUsage().maxRSS * 1024;
}

export function writeResult(outFile: string, r: PeerResult): void {
  fs.mkdirSync(path.dirname(path.resolve(outFile)), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(r, null, 2) + "\n");
}
