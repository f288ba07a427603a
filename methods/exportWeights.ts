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

/**
 * Export to safetensors + config.json in Hugging Face LLaMA naming, so other tools can load the weights.
 * Dense projections are stored as PyTorch Linear weights, [out, in] (rankfuse keeps [in, out], so they
 * are transposed); CoLA projections keep the CoLA authors' names and layout: `cola_a` [in, r] and
 * `cola_b` [r, out], computing `cola_b·silu(cola_a·x)`. The mapping is the README's table.
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

/** CoLA's factor names, in the CoLA authors' layout. */
const COLA_FACTORS: Record<string, string> = { A: "cola_a", B: "cola_b" };

/**
 * rankfuse's param path -> [exported name, stored transposed?]. Params outside the LLaMA and CoLA table
 * (other methods' factors, a user method's own) keep their rankfuse name and layout under the
 * projection they belong to (`model.layers.i.self_attn.q_proj.C`), or under `rankfuse.` at the top level.
 */
export function exportName(name: string): [string, boolean] {
  if (name === "embed") return ["model.embed_tokens.weight", false];
  if (name === "head") return ["lm_head.weight", true];
  if (name === "finalNorm") return ["model.norm.weight", false];
  const m = /^blocks\.(\d+)\.(\w+)(?:\.(.+))?$/.exec(name);
  const pre = `model.layers.${m?.[1]}.`;
  if (m && !m[3] && m[2] === "attnNorm") return [`${pre}input_layernorm.weight`, false];
  if (m && !m[3] && m[2] === "mlpNorm") return [`${pre}post_attention_layernorm.weight`, false];
  const proj = m && PROJ[m[2]!];
  if (!m || !proj) return [`rankfuse.${name}`, false];
  const rest = m[3];
  return rest ? [`${pre}${proj}.${COLA_FACTORS[rest] ?? rest}`, false] : [`${pre}${proj}.weight`, true];
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

/**
 * config.json: Hugging Face's LlamaConfig fields, CoLA's where the model is not full rank, and a
 * `rankfuse` section (the method, where it came from, the config) from which `importWeights` rebuilds it.
 */
export function hfConfig(model: LanguageModel, source?: MethodSource): Record<string, unknown> {
  const c = model.config;
  return {
    architectures: [model.method !== "full" ? "ColaForCausalLM" : "LlamaForCausalLM"],
    model_type: model.method !== "full" ? "cola" : "llama",
    vocab_size: c.vocab,
    hidden_size: c.d,
    intermediate_size: c.dFF,
    num_attention_heads: c.heads,
    num_key_value_heads: c.heads,
    num_hidden_layers: c.layers,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeBase,
    max_position_embeddings: c.seq,
    hidden_act: "silu",
    tie_word_embeddings: false,
    attention_bias: false,
    mlp_bias: false,
    ...(model.method !== "full" ? { rank: c.rank, lr_act: true, lr_act_type: "silu", only_lr_act: c.onlyLrAct } : {}),
    rankfuse: { ...methodRecord(model, source), config: c },
  };
}

/**
 * Writes DIR/model.safetensors and DIR/config.json (atomically). `source`: the file the model's method
 * came from, recorded so that importing the export loads it again.
 */
export function exportWeights(
  dir: string,
  model: LanguageModel,
  params: readonly Float32Array[],
  source?: MethodSource,
): E.Either<TrainError, string> {
  const names = model.layout.names.map(exportName);
  const clash = names.find(([key], i) => names.findIndex(([k]) => k === key) !== i);
  if (clash) return E.left(trainError("SafetensorsError", `two params would export as ${clash[0]}`));
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
  const file = path.join(dir, "model.safetensors");
  return E.flatMap(
    writeFileAtomic(file, encodeSafetensors(tensors, { format: "pt", producer: "rankfuse" }), "SafetensorsError"),
    () =>
      E.map(() => file)(
        writeFileAtomic(
          path.join(dir, "config.json"),
          new TextEncoder().encode(JSON.stringify(hfConfig(model, source), null, 2) + "\n"),
          "SafetensorsError",
        ),
      ),
  );
}

/**
 * Reads an export back: the model it describes and its params in rankfuse's layout order. A model whose
 * method came from a file imports that file again (refused if it is missing or changed since).
 */
export async function importWeights(
  dir: string,
): Promise<E.Either<TrainError, { model: LanguageModel; params: Float32Array[] }>> {
  const bad = (m: string) => E.left(trainError("SafetensorsError", m));
  let cfgJson: { rankfuse?: { method?: string; config?: ModelConfig; methodFile?: unknown } };
  let bytes: Uint8Array;
  try {
    cfgJson = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    bytes = fs.readFileSync(path.join(dir, "model.safetensors"));
  } catch (e) {
    return bad(`cannot read an export in ${dir}: ${causeMessage(e)}`);
  }
  const rf = cfgJson.rankfuse;
  if (!rf?.method || !rf.config) return bad(`${dir}/config.json has no "rankfuse" section (method and config)`);
  const cfg = resolveConfig(rf.config.name, rf.config);
  if (E.isLeft(cfg)) return bad(`${dir}/config.json: ${cfg.left.message}`);
  const methodFile = isMethodSource(rf.methodFile) ? rf.methodFile : undefined;
  const model = await rebuildModel({ method: rf.method, methodFile }, cfg.right, dir);
  if (E.isLeft(model)) return bad(`${dir}/config.json: ${model.left.message}`);
  const st = decodeSafetensors(bytes);
  if (E.isLeft(st)) return st;
  const params: Float32Array[] = [];
  for (const [i, name] of model.right.layout.names.entries()) {
    const [key, t] = exportName(name);
    const tensor = st.right.tensors[key];
    const shape = model.right.layout.shapes[i]!;
    const want = t ? [shape[1], shape[0]] : shape;
    if (!tensor) return bad(`${dir}/model.safetensors has no tensor ${key}`);
    if (tensor.dtype !== "F32" || tensor.shape.join(",") !== want.join(","))
      return bad(`${key} is ${tensor.dtype}[${tensor.shape}], expected F32[${want}]`);
    params.push(t ? transpose2d(tensor.data as Float32Array, shape[1]!, shape[0]!) : (tensor.data as Float32Array));
  }
  return E.right({ model: model.right, params });
}
