import * as E from "fp-ts/lib/Either.js";
import type { BackendModule } from "../../ir/backend.ts";
import { guardLoad } from "../guard.ts";

/** tfjs-backend-wasm (SIMD): the portable CPU path, auto's choice where the native addon cannot build. */
export const wasmModule: BackendModule<"wasm"> = {
  name: "wasm",
  priority: 20,
  load: () => guardLoad("wasm", async () => E.right(await (await import("./backend.ts")).wasmBackend())),
};
