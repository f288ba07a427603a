import type { BackendModule } from "../../ir/backend.ts";
import { guardLoad } from "../guard.ts";

/** The native addon (compiled on first use); unavailable where it cannot build, and auto falls back to wasm. */
export const nativeModule: BackendModule<"native"> = {
  name: "native",
  priority: 30,
  load: () => guardLoad("native", async () => (await import("./backend.ts")).nativeBackend()),
};
