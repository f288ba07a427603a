import * as E from "fp-ts/lib/Either.js";
import { assembleModel, declare, dense, denseProj } from "../../models/model.ts";
import type { Method } from "../method.ts";
import { LLAMA_EXPORT } from "../exportSpec.ts";

/** Full-rank LLaMA: dense projections, SwiGLU MLP; the baseline every other method is compared with. */
export const full: Method = {
  name: "full",
  summary: "full-rank LLaMA (dense q, k, v, o, gate, up, down)",
  export: LLAMA_EXPORT,
  build: (cfg) => E.right(assembleModel("full", cfg, declare(cfg, dense), { proj: denseProj, gateSilu: true })),
};
