import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../train/atomicFile.ts";
import { decodeSafetensors, encodeSafetensors, type TensorInput } from "../train/safetensors.ts";
import { trainError, causeMessage, type TrainError } from "../train/errors.ts";
import { resolveConfig, type ModelConfig } from "../models/config.ts";
import { type LanguageModel } from "../models/model.ts";
import type { MethodSource } from "./fromFile.ts";
import { isMethodSource, methodRecord, rebuildModel } from "./resolve.ts";
import { DEFAULT_EXPORT, type ExportSpec } from "./exportSpec.ts";
import { METHOD_LIST } from "./index.ts";
import { CHECKSUMS, checkExportTarget, checksumsFile, verifyChecksums } from "../train/exportFiles.ts";

/**
 * Export to safetensors + config.json in Hugging Face LLaMA naming, so other tools can load the weights.
 * Dense projections are stored as PyTorch Linear weights, [out, in] (rankfuse keeps [in, out], so they
 * are transposed); each method names its factors and says what its function is (its `export` spec,
 * methods/exportSpec.ts): CoLA's `cola_a` [in, r] and `cola_b` [r, out], LoRA adapters in PEFT's names,
 * SST's U, Σ, V, CR-Net's factors and β, the structured FFNs' blocks. The README's table lists them.
 */
const PROJ: Record<string, string> = {
  q: "self_attn.q_proj",
  k: "self_attn.k_proj",
  v: "self_attn.v_proj",
  o: "self_attn.o_proj",
  gate: "mlp.gate_proj",
  up: "mlp.up_proj",
  down: "mlp.down_proj",
};

/** The export spec of a model: its built-in method's, or (a user's method from a file) rankfuse's names. */
export function exportSpecOf(model: LanguageModel, source?: MethodSource): ExportSpec {
  if (source) return DEFAULT_EXPORT;
  return METHOD_LIST.find((m) => m.name === model.method)?.export ?? DEFAULT_EXPORT;
}

/**
 * rankfuse's param path -> [exported name, stored transposed?]. A projection's own params are named by
 * the spec's `factors` (else they keep their rankfuse name under the projection,
 * `model.layers.i.self_attn.q_proj.C`); top-level params outside LLaMA by its `globals` (else `rankfuse.<name>`).
 */
export function exportName(name: string, spec: ExportSpec = DEFAULT_EXPORT): [string, boolean] {
  if (name === "embed") return ["model.embed_tokens.weight", false];
  if (name === "head") return ["lm_head.weight", true];
  if (name === "finalNorm") return ["model.norm.weight", false];
  const m = /^blocks\.(\d+)\.(\w+)(?:\.(.+))?$/.exec(name);
  const pre = `model.layers.${m?.[1]}.`;
  if (m && !m[3] && m[2] === "attnNorm") return [`${pre}input_layernorm.weight`, false];
  if (m && !m[3] && m[2] === "mlpNorm") return [`${pre}post_attention_layernorm.weight`, false];
  const proj = m && PROJ[m[2]!];
  if (!m || !proj) return [spec.globals?.[name] ?? `rankfuse.${name}`, false];
  const rest = m[3];
  if (!rest) return [`${pre}${proj}.weight`, true];
  const [factor, transposed] = spec.factors?.[rest] ?? [rest, false];
  return [`${pre}${proj}.${factor}`, transposed];
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

/** The Hugging Face LlamaConfig fields of a config (import checks them against the rankfuse section). */
const hfFields = (c: ModelConfig) => ({
  vocab_size: c.vocab,
  hidden_size: c.d,
  intermediate_size: c.dFF,
  num_attention_heads: c.heads,
  num_key_value_heads: c.heads,
  num_hidden_layers: c.layers,
  rms_norm_eps: c.normEps,
  rope_theta: c.ropeBase,
});

/**
 * config.json: Hugging Face's LlamaConfig fields, the architecture and model_type that are true of the
 * method (its export spec) with its own fields, and a `rankfuse` section (the method, where it came
 * from, the config) from which `importWeights` rebuilds it.
 */
export function hfConfig(model: LanguageModel, source?: MethodSource): Record<string, unknown> {
  const c = model.config;
  const spec = exportSpecOf(model, source);
  return {
    architectures: [spec.architecture],
    model_type: spec.modelType,
    ...hfFields(c),
    max_position_embeddings: c.seq,
    hidden_act: "silu",
    tie_word_embeddings: false,
    attention_bias: false,
    mlp_bias: false,
    ...spec.config?.(c),
    rankfuse: { ...methodRecord(model, source), config: c },
  };
}

/** The files a weights export writes into its folder. */
export const EXPORT_FILES = ["model.safetensors", "config.json", CHECKSUMS] as const;

/**
 * Writes DIR/model.safetensors, DIR/config.json and DIR/checksums.json (their sha256), each atomically.
 * Refuses a folder that already holds any of them unless `force`. `source`: the file the model's method
 * came from, recorded so that importing the export loads it again.
 */
export function exportWeights(
  dir: string,
  model: LanguageModel,
  params: readonly Float32Array[],
  source?: MethodSource,
  opts: { readonly force?: boolean } = {},
): E.Either<TrainError, string> {
  const spec = exportSpecOf(model, source);
  const names = model.layout.names.map((n) => exportName(n, spec));
  const clash = names.find(([key], i) => names.findIndex(([k]) => k === key) !== i);
  if (clash) return E.left(trainError("SafetensorsError", `two params would export as ${clash[0]}`));
  const target = checkExportTarget(dir, EXPORT_FILES, !!opts.force);
  if (E.isLeft(target)) return E.left(trainError("SafetensorsError", target.left));
  const tensors: Record<string, TensorInput> = {};
  model.layout.names.forEach((_, i) => {
    const [key, t] = names[i]!;
    const shape = model.layout.shapes[i]!;
    tensors[key] = t
      ? { dtype: "F32", shape: [shape[1]!, shape[0]!], data: transpose2d(params[i]!, shape[0]!, shape[1]!) }
      : { dtype: "F32", shape: [...shape], data: params[i]! };
  });
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    return E.left(trainError("SafetensorsError", `cannot create ${dir}: ${causeMessage(e)}`));
  }
  const files: Record<(typeof EXPORT_FILES)[number], Uint8Array> = {
    "model.safetensors": encodeSafetensors(tensors, { format: "pt", producer: "rankfuse" }),
    "config.json": new TextEncoder().encode(JSON.stringify(hfConfig(model, source), null, 2) + "\n"),
    [CHECKSUMS]: new Uint8Array(),
  };
  files[CHECKSUMS] = checksumsFile({
    "model.safetensors": files["model.safetensors"],
    "config.json": files["config.json"],
  });
  // checksums.json last: an export cut short (or one overwritten halfway) fails its check instead of loading
  for (const name of EXPORT_FILES) {
    const w = writeFileAtomic(path.join(dir, name), files[name], "SafetensorsError");
    if (E.isLeft(w)) return w;
  }
  return E.right(path.join(dir, "model.safetensors"));
}

/** A folder holding weights and a config.json with a "rankfuse" section, read and its model rebuilt. */
export interface ModelFolder {
  readonly config: Record<string, unknown>;
  readonly model: LanguageModel;
  readonly methodFile?: MethodSource;
  /** The weights file's bytes. */
  readonly bytes: Uint8Array;
  /** Said when the folder has no checksums.json, so its files were read unverified. */
  readonly note?: string;
}

/**
 * Reads DIR/config.json and DIR/`weights` and rebuilds the model its "rankfuse" section describes (a
 * method from a file imports that file again: refused if it is missing or changed since). `what` names
 * the folder's kind in messages ("an export", "PyTorch weights"). Both files are checked against the
 * folder's checksums.json first: a mismatch is refused, naming the file; a folder without one is read
 * with a note.
 */
export async function readModelFolder(
  dir: string,
  weights: string,
  what: string,
): Promise<E.Either<TrainError, ModelFolder>> {
  const bad = (m: string) => E.left(trainError("SafetensorsError", m));
  let config: Record<string, unknown> & { rankfuse?: { method?: string; config?: ModelConfig; methodFile?: unknown } };
  let bytes: Uint8Array, configBytes: Uint8Array;
  try {
    configBytes = fs.readFileSync(path.join(dir, "config.json"));
    bytes = fs.readFileSync(path.join(dir, weights));
  } catch (e) {
    return bad(`cannot read ${what} in ${dir}: ${causeMessage(e)}`);
  }
  const verified = verifyChecksums(dir, { "config.json": configBytes, [weights]: bytes });
  if (E.isLeft(verified)) return bad(verified.left);
  try {
    config = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (e) {
    return bad(`cannot read ${what} in ${dir}: config.json: ${causeMessage(e)}`);
  }
  const rf = config.rankfuse;
  if (!rf?.method || !rf.config) return bad(`${dir}/config.json has no "rankfuse" section (method and config)`);
  const cfg = resolveConfig(rf.config.name, rf.config);
  if (E.isLeft(cfg)) return bad(`${dir}/config.json: ${cfg.left.message}`);
  const methodFile = isMethodSource(rf.methodFile) ? rf.methodFile : undefined;
  const model = await rebuildModel({ method: rf.method, methodFile }, cfg.right, dir);
  if (E.isLeft(model)) return bad(`${dir}/config.json: ${model.left.message}`);
  return E.right({ config, model: model.right, methodFile, bytes, ...(verified.right && { note: verified.right }) });
}

/** Weights read back from an export folder; `note` when they could not be verified (no checksums.json). */
export interface ImportedWeights {
  readonly model: LanguageModel;
  readonly params: Float32Array[];
  readonly note?: string;
}

/**
 * Reads an export back: the model it describes and its params in rankfuse's layout order. A model whose
 * method came from a file imports that file again (refused if it is missing or changed since).
 */
export async function importWeights(dir: string): Promise<E.Either<TrainError, ImportedWeights>> {
  const bad = (m: string) => E.left(trainError("SafetensorsError", m));
  const folder = await readModelFolder(dir, "model.safetensors", "an export");
  if (E.isLeft(folder)) return folder;
  const { config, model, methodFile, bytes } = folder.right;
  // the Hugging Face fields are what other tools read: they must describe the model rankfuse rebuilds
  const disagree = Object.entries(hfFields(model.config)).filter(
    ([k, v]) => k in config && config[k] !== v && !(k === "num_key_value_heads" && config[k] == null),
  );
  if (disagree.length)
    return bad(
      `${dir}/config.json: ${disagree.map(([k, v]) => `${k} is ${JSON.stringify(config[k])} but the rankfuse section says ${v}`).join("; ")}`,
    );
  const st = decodeSafetensors(bytes);
  if (E.isLeft(st)) return st;
  const spec = exportSpecOf(model, methodFile);
  const used = new Set<string>();
  const params: Float32Array[] = [];
  for (const [i, name] of model.layout.names.entries()) {
    const [key, t] = exportName(name, spec);
    used.add(key);
    const tensor = st.right.tensors[key];
    const shape = model.layout.shapes[i]!;
    const want = t ? [shape[1], shape[0]] : shape;
    if (!tensor) return bad(`${dir}/model.safetensors has no tensor ${key}`);
    if (tensor.dtype !== "F32" || tensor.shape.join(",") !== want.join(","))
      return bad(`${key} is ${tensor.dtype}[${tensor.shape}], expected F32[${want}]`);
    params.push(t ? transpose2d(tensor.data as Float32Array, shape[1]!, shape[0]!) : (tensor.data as Float32Array));
  }
  const unused = Object.keys(st.right.tensors).filter((k) => !used.has(k));
  if (unused.length)
    return bad(
      `${dir}/model.safetensors has ${unused.length} tensor${unused.length > 1 ? "s" : ""} a ${model.method} model does not use: ${unused.slice(0, 5).join(", ")}${unused.length > 5 ? ", …" : ""}`,
    );
  return E.right({ model, params, ...(folder.right.note && { note: folder.right.note }) });
}
