import type { Method } from "../method.ts";
import { makeRelora } from "./model.ts";

/** ReLoRA (Lialin et al.): LoRA adapters merged into W and restarted with jagged lr re-warmups. */
export const relora: Method = {
  name: "relora",
  summary: "ReLoRA: frozen W plus a LoRA adapter, merged and restarted every cycle",
  build: (cfg) => makeRelora(cfg),
};
