/**
 * Tests that need something of the machine: the native addon (g++ and Node headers), WebGPU in Node
 * (Dawn on Mesa's EGL/OpenGL drivers), a headless Chromium, or PyTorch (the benchmarks' peer). Where it
 * is missing they are skipped and the reason is printed, unless the requirement's environment variable
 * is set (CI sets the first three): then they run and fail with the reason instead of passing by skipping.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../../backends/index.ts";
import { loadNativeAddon, type NativeAddon } from "../../backends/native/build.ts";
import type { Backend } from "../../ir/backend.ts";

/** What a suite can need, what to call it in messages, and the variable that makes it mandatory. */
const REQUIREMENTS = {
  native: { what: "the native addon", variable: "RANKFUSE_REQUIRE_NATIVE" },
  webgpu: { what: "WebGPU in Node", variable: "RANKFUSE_REQUIRE_WEBGPU" },
  browser: { what: "headless Chromium", variable: "RANKFUSE_REQUIRE_BROWSER" },
  torch: { what: "PyTorch at /usr/bin/python3", variable: "RANKFUSE_REQUIRE_TORCH" },
} as const;

/** One of REQUIREMENTS' keys. */
export type RequirementName = keyof typeof REQUIREMENTS;

/** The outcome of probing for a requirement once, when a test file loads. */
export interface Requirement<T> {
  readonly name: RequirementName;
  /** The probe found it. */
  readonly available: boolean;
  /** Why it is missing (null where it is available). */
  readonly reason: string | null;
  /** Its environment variable is set (to anything but 0): missing is a failure, not a skip. */
  readonly required: boolean;
  /** Missing and not required: skip the tests that need it (`describe.skipIf(r.skip)`). */
  readonly skip: boolean;
  /** What the probe found; throws the reason, naming the variable, where it is missing. */
  get(): T;
  /** `title`, with the reason appended where the tests are skipped, so reporters that list titles show it. */
  title(title: string): string;
}

/**
 * Probes once for `name`: `probe` gives what the tests use, or why it is missing (a probe that throws
 * counts as missing). Prints the reason where the tests will be skipped, and where they will fail.
 */
export async function requirement<T>(
  name: RequirementName,
  probe: () => E.Either<string, T> | Promise<E.Either<string, T>>,
): Promise<Requirement<T>> {
  const { what, variable } = REQUIREMENTS[name];
  let found: E.Either<string, T>;
  try {
    found = await probe();
  } catch (e) {
    found = E.left(e instanceof Error ? e.message : String(e));
  }
  const reason = E.isLeft(found) ? found.left : null;
  const required = (process.env[variable] ?? "") !== "" && process.env[variable] !== "0";
  const skip = reason !== null && !required;
  if (skip) console.warn(`skipped: ${what} is unavailable: ${reason}; set ${variable}=1 to make that a failure`);
  else if (reason !== null) console.error(`FAILING: ${variable} is set, but ${what} is unavailable: ${reason}`);
  return {
    name,
    available: reason === null,
    reason,
    required,
    skip,
    get: () => {
      if (E.isLeft(found))
        throw new Error(`${what} is unavailable${required ? ` and ${variable} requires it` : ""}: ${found.left}`);
      return found.right;
    },
    title: (title) => (skip ? `${title} [skipped: ${what} is unavailable: ${reason}]` : title),
  };
}

/** The native addon (its build needs g++ and Node headers). */
export const nativeAddonRequirement = (): Promise<Requirement<NativeAddon>> => requirement("native", loadNativeAddon);

/** A backend that needs the machine: native (the addon) or webgpu (a WebGPU adapter in Node). */
export const backendRequirement = (name: "native" | "webgpu"): Promise<Requirement<Backend<any>>> =>
  requirement(name, async () => E.mapLeft((e: { message: string }) => e.message)(await loadBackend(name)));

/** The Chromium the browser tests drive: RANKFUSE_CHROMIUM, else the Debian package's /usr/bin/chromium. */
const chromiumPath = (): string => process.env.RANKFUSE_CHROMIUM || "/usr/bin/chromium";

/** An executable Chromium at chromiumPath(); playwright-core drives it and never downloads one. */
export const chromiumRequirement = (): Promise<Requirement<string>> =>
  requirement("browser", () => {
    const file = chromiumPath();
    try {
      accessSync(file, constants.X_OK);
      return E.right(file);
    } catch {
      return E.left(`no executable Chromium at ${file}: apt-get install chromium, or point RANKFUSE_CHROMIUM at one`);
    }
  });

/** The Python the benchmarks run PyTorch with (bench/peers.ts): Debian's, where python3-torch installs. */
export const TORCH_PYTHON = "/usr/bin/python3";

/** /usr/bin/python3 that imports torch (apt-get install python3-torch libopenblas0-openmp); gives its path. */
export const torchRequirement = (): Promise<Requirement<string>> =>
  requirement("torch", () => {
    const r = spawnSync(TORCH_PYTHON, ["-c", "import torch"], { encoding: "utf8", timeout: 120_000 });
    if (r.error) return E.left(`${TORCH_PYTHON} could not run: ${r.error.message}`);
    if (r.status !== 0)
      return E.left(
        `${TORCH_PYTHON} cannot import torch (apt-get install python3-torch libopenblas0-openmp): ${(r.stderr || "").trim().split("\n").slice(-1)[0]}`,
      );
    return E.right(TORCH_PYTHON);
  });
