import { loraExport } from "../exportSpec.ts";
import type { Method } from "../method.ts";
import { makeDynamic } from "./model.ts";
import { LORA_ALPHA } from "../relora/model.ts";

/** Dynamic parameter adjustment (Zhou & Wang): full-rank training rotates through groups of blocks. */
export const dynamic: Method = {
  export: loraExport(LORA_ALPHA),
  name: "dynamic",
  summary: "dynamic adjustment: blocks take turns training full W while the rest train LoRA adapters",
  build: (cfg) => makeDynamic(cfg),
};
