import * as E from "fp-ts/lib/Either.js";
import type { BackendModule } from "../../ir/backend.ts";
import { guardLoad } from "../guard.ts";

/** tfjs-backend-cpu: auto's last resort, about 1 GFLOP/s. */
export const cpuModule: BackendModule<"cpu"> = {
  name: "cpu",
  priority: 10,
  load: () => guardLoad("cpu", async () => E.right(await (await import("./backend.ts")).cpuBackend())),
};
