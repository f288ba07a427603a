import { LLAMA_EXPORT } from "../exportSpec.ts";
import type { Method } from "../method.ts";
import { makeFira } from "./model.ts";

/** Fira (Chen et al.): full-rank training with low-rank optimizer state. */
export const fira: Method = {
  export: LLAMA_EXPORT, // Fira changes the optimizer, not the model: the weights are a dense LLaMA
  name: "fira",
  summary: "Fira: full-rank model, projections trained in a rank-r gradient subspace plus a scaled residual",
  build: (cfg) => makeFira(cfg),
};
