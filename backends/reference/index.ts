import * as E from "fp-ts/lib/Either.js";
import type { BackendModule } from "../../ir/backend.ts";
import { guardLoad } from "../guard.ts";

/** Float64 JavaScript, the oracle for tests: always loads, but auto never picks it (too slow to train on). */
export const referenceModule: BackendModule<"reference"> = {
  name: "reference",
  priority: 0,
  load: () => guardLoad("reference", async () => E.right((await import("./backend.ts")).referenceBackend())),
};
