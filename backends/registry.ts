import * as E from "fp-ts/lib/Either.js";
import type { RankfuseError } from "../dsl/errors.ts";
import type { Backend } from "./backend.ts";
import { referenceBackend } from "./reference/backend.ts";

export const BACKEND_NAMES = ["native", "wasm", "cpu", "reference"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

const loaders: { readonly [N in BackendName]: () => Promise<Backend<any>> } = {
  reference: async () => referenceBackend(),
  native: async () => {
    const be = (await import("./native/backend.ts")).nativeBackend();
    if (E.isLeft(be)) throw new Error(be.left);
    return be.right;
  },
  cpu: async () => (await import("./cpu.ts")).cpuBackend(),
  wasm: async () => (await import("./wasm.ts")).wasmBackend(),
};

/** What `auto` means, first choice first: the native engine where its addon builds, else wasm. */
export const AUTO_ORDER: readonly BackendName[] = ["native", "wasm", "cpu"];

/**
 * Loads a backend by name. `auto` (or no name) takes `RANKFUSE_BACKEND` if set, else the first of
 * AUTO_ORDER that loads. Backends load lazily, so an unavailable one costs nothing until asked for.
 */
export async function loadBackend(name: string = process.env.RANKFUSE_BACKEND || "auto"): Promise<E.Either<RankfuseError, Backend<any>>> {
  if (name === "auto") {
    const failures: string[] = [];
    for (const n of AUTO_ORDER) {
      const be = await loadBackend(n);
      if (E.isRight(be)) return be;
      failures.push(be.left.message);
    }
    return E.left({ tag: "ConfigError", message: `no backend could load: ${failures.join("; ")}` });
  }
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    return E.left({ tag: "ConfigError", message: `unknown backend "${name}": choose one of auto, ${BACKEND_NAMES.join(", ")}` });
  }
  try {
    return E.right(await loaders[name as BackendName]());
  } catch (e) {
    return E.left({ tag: "ConfigError", message: `backend ${name} failed to load: ${(e as Error).message}` });
  }
}
