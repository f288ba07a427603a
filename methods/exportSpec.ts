import type { ModelConfig } from "../models/config.ts";

/**
 * How a method's weights are named and described in an export (README: "Export layout"). Dense
 * projections are always `<projection>.weight` in PyTorch's [out, in] layout; a method names its factors,
 * says which Hugging Face architecture and model_type are true of its function, and adds its own
 * config.json fields. A method without one (a user's, from a file) exports under its rankfuse names
 * and `RankfuseForCausalLM` / `rankfuse`: the "rankfuse" section then says what the model is.
 */
export interface ExportSpec {
  /** config.json's `architectures[0]`. */
  readonly architecture: string;
  /** config.json's `model_type`. */
  readonly modelType: string;
  /** A projection's own param (after `blocks.i.<map>.`) → its exported name and whether it is stored transposed. */
  readonly factors?: Readonly<Record<string, readonly [name: string, transposed: boolean]>>;
  /** A top-level param of the method's own (a guide's α) → its exported name. */
  readonly globals?: Readonly<Record<string, string>>;
  /** The method's fields in config.json (rank, LoRA's alpha, the formula its factors compute). */
  readonly config?: (cfg: ModelConfig) => Record<string, unknown>;
}

/** A dense LLaMA: Hugging Face's `LlamaForCausalLM` loads it as it is. */
export const LLAMA_EXPORT: ExportSpec = { architecture: "LlamaForCausalLM", modelType: "llama" };

/** A model rankfuse defines (a user's method): its rankfuse names, and the rankfuse section says which. */
export const DEFAULT_EXPORT: ExportSpec = { architecture: "RankfuseForCausalLM", modelType: "rankfuse" };

/** The projections LoRA adapters attach to, in PEFT's names. */
export const LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;

/**
 * A LoRA-adapted LLaMA in PEFT's layout: the base weight as `base_layer.weight` [out, in], the adapter
 * as `lora_A.weight` [r, in] and `lora_B.weight` [out, r], computing base_layer(x) + (α/r)·lora_B(lora_A(x)).
 */
export const loraExport = (alpha: number): ExportSpec => ({
  ...LLAMA_EXPORT,
  factors: { W: ["base_layer.weight", true], A: ["lora_A.weight", true], B: ["lora_B.weight", true] },
  config: (cfg) => ({
    lora: {
      peft_type: "LORA",
      r: cfg.rank,
      lora_alpha: alpha,
      target_modules: [...LORA_TARGETS],
      computes: "base_layer(x) + (lora_alpha / r) * lora_B(lora_A(x))",
    },
  }),
});
