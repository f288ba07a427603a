import { afterEach } from "vitest";
import type * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../../ir/backend.ts";
import { compile } from "../../run/compile.ts";
import { unwrap } from "../../testing/unwrap.ts";

/** Deterministic inputs in [-3, 3] that are not a smooth ramp (a generated kernel's lanes all differ). */
export const wavy = (k: number, seed: number): Float32Array =>
  Float32Array.from({ length: k }, (_, i) => Math.sin(i * 12.9898 + seed) * 3);

/** Puts back, after each test, the variables that steer generated kernels (compiler, cache folder). */
export function restoreCodegenEnv(): void {
  const env = { ...process.env };
  afterEach(() => {
    for (const k of ["RANKFUSE_CODEGEN_CXX", "RANKFUSE_NATIVE_CACHE"]) {
      if (env[k] === undefined) delete process.env[k];
      else process.env[k] = env[k];
    }
  });
}

/** Compiles `f` for a backend and runs it on fixed inputs: its first output. */
export const runOn =
  (f: (...a: any[]) => unknown, args: readonly unknown[], inputs: readonly Float32Array[]) =>
  async (backend: Backend<any>): Promise<Float32Array> => {
    const compiled: { run: (...a: unknown[]) => Promise<any> } = unwrap(compile(f, { args, backend }) as any);
    const r: E.Either<{ tag: string; message: string }, { out: unknown }> = await compiled.run(...inputs);
    return unwrap(r).out as Float32Array;
  };
