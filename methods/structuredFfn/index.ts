import type { Method } from "../method.ts";
import type { ExportSpec } from "../exportSpec.ts";
import { GUIDE_ALPHA } from "./selfGuided.ts";
import type { StructuredKind } from "./layers.ts";
import { makeStructuredFfn } from "./model.ts";

/** The MLP maps' factors by structure; attention stays dense. */
const FACTORS: Record<StructuredKind, Record<string, readonly [string, boolean]>> = {
  lowRank: { U: ["lowrank_u", false], V: ["lowrank_v", false] },
  blockShuffle: { shuffle1: ["block_shuffle_1", false], shuffle2: ["block_shuffle_2", false] },
  blockDense: { blocks: ["block_diagonal", false], dense: ["block_dense", false] },
};

/** Where a map is α·guide(x) + (1−α)·structured(x): the guide is a dense Linear weight. */
const exportSpec = (kind: StructuredKind, guided: boolean): ExportSpec => ({
  architecture: "StructuredFfnLlamaForCausalLM",
  modelType: "llama_structured_ffn",
  factors: { ...FACTORS[kind], ...(guided ? { guide: ["guide.weight", true] as const } : {}) },
  globals: guided ? { [GUIDE_ALPHA]: "model.guide_alpha" } : {},
  config: (cfg) => ({ ffn_structure: kind, rank: cfg.rank, self_guided: guided }),
});

const structured = (name: string, kind: StructuredKind, guided: boolean, summary: string): Method => ({
  name,
  summary,
  export: exportSpec(kind, guided),
  build: (cfg) => makeStructuredFfn(cfg, kind, { guided }),
});

/** Structured FFNs (Wei et al.): dense attention, and MLP maps that are low-rank or block-structured. */
export const lowrankFfn = structured(
  "lowrankFfn",
  "lowRank",
  false,
  "low-rank MLP maps U·V (from the SVD of a dense init)",
);
export const blockShuffleFfn = structured(
  "blockShuffleFfn",
  "blockShuffle",
  false,
  "block-diagonal MLP factors with a shuffle between them",
);
export const blockDenseFfn = structured("blockDenseFfn", "blockDense", false, "block-diagonal then dense MLP maps");
/** The same maps trained self-guided: beside a dense guide whose weight α decays 1 → 0 over the first half. */
export const lowrankFfnGuided = structured(
  "lowrankFfnGuided",
  "lowRank",
  true,
  "lowrankFfn trained self-guided by a decaying dense guide",
);
export const blockShuffleFfnGuided = structured(
  "blockShuffleFfnGuided",
  "blockShuffle",
  true,
  "blockShuffleFfn trained self-guided by a decaying dense guide",
);
export const blockDenseFfnGuided = structured(
  "blockDenseFfnGuided",
  "blockDense",
  true,
  "blockDenseFfn trained self-guided by a decaying dense guide",
);
