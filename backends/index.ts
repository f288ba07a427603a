/**
 * The backends, as one list. Each backend is a folder whose index.ts exports a BackendModule
 * (ir/backend.ts): its name, its priority for `auto`, and a `load()` that imports the backend's code
 * lazily and returns it or one readable error, never a throw.
 *
 * Adding a backend: write `backends/<name>/index.ts` exporting `{ name, priority, load }` (use
 * guardLoad from guard.ts so a failure is a value), then add one line to BACKENDS below. Names, `auto`'s
 * order, help text and `rankfuse backends` all follow from the list.
 */
import * as E from "fp-ts/lib/Either.js";
import { backendUnavailable, type RankfuseError } from "../ir/errors.ts";
import type { Backend, BackendModule } from "../ir/backend.ts";
import { autoOrder, pickFirst, type AutoPick } from "./auto.ts";
import { cudaModule } from "./cuda/index.ts";
import { webgpuModule } from "./webgpu/index.ts";
import { nativeModule } from "./native/index.ts";
import { wasmModule } from "./wasm/index.ts";
import { cpuModule } from "./cpu/index.ts";
import { referenceModule } from "./reference/index.ts";

// listing order is the order `rankfuse backends` prints; auto's order comes from the priorities
const LIST = [cudaModule, webgpuModule, nativeModule, wasmModule, cpuModule, referenceModule] as const;

/** Every backend rankfuse knows. */
export const BACKENDS: readonly BackendModule[] = LIST;

/** A backend's name, as users type it. */
export type BackendName = (typeof LIST)[number]["name"];

/** Every backend's name, in list order. */
export const BACKEND_NAMES: readonly BackendName[] = LIST.map((m) => m.name);

/** What `auto` means, first choice first: the list by priority (highest first), without priority-0 backends. */
export const AUTO_ORDER: readonly BackendName[] = autoOrder(LIST).map((m) => m.name);

/** Backend names a user may ask for, with `auto`, for messages and --help. */
export const backendChoices = (): string => `auto, ${BACKEND_NAMES.join(", ")}`;

/**
 * Loads a backend by name. `auto` (or no name) takes `RANKFUSE_BACKEND` if set, else the first of
 * AUTO_ORDER that loads. Backends load lazily, so an unavailable one costs nothing until asked for.
 */
export async function loadBackend(
  name: string = process.env.RANKFUSE_BACKEND || "auto",
): Promise<E.Either<RankfuseError, Backend<any>>> {
  if (name === "auto") {
    const { backend, passedOver } = await pickAuto();
    return backend
      ? E.right(backend)
      : E.left(backendUnavailable("auto", `no backend could load: ${passedOver.join("; ")}`));
  }
  const m = BACKENDS.find((b) => b.name === name);
  return m
    ? m.load()
    : E.left({ tag: "ConfigError", message: `unknown backend "${name}": choose one of ${backendChoices()}` });
}

/** The first of AUTO_ORDER that loads, and why each one before it was passed over. */
export const pickAuto = (): Promise<AutoPick> => pickFirst(BACKENDS);
