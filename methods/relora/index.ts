import { loraExport } from "../exportSpec.ts";
import type { Method } from "../method.ts";
import { LORA_ALPHA, makeRelora } from "./model.ts";

/** ReLoRA (Lialin et al.): LoRA adapters merged into W and restarted with jagged lr re-warmups. */
export const relora: Method = {
  export: loraExport(LORA_ALPHA),
  name: "relora",
  summary: "ReLoRA: frozen W plus a LoRA adapter, merged and restarted every cycle",
  build: (cfg) => makeRelora(cfg),
};
