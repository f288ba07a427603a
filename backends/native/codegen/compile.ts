/**
 * Compiling generated kernels, as TorchInductor's C++ backend does: the source is written beside its
 * shared object in <native cache>/kernels/<key>.{cc,so}, where the key hashes the source, the headers
 * it includes, the compiler's version and the CPU, so a kernel is compiled once per machine and
 * loaded from the cache after that (and at most once per process: see loadGenerated). The compiler is
 * RANKFUSE_CODEGEN_CXX, else CXX, else g++; when it is missing or fails, the Left says why. Beside each
 * library, <key>.so.json records its size and sha256 (as for the addon): a cached library that does not
 * match it (truncated by a full disk, damaged) is compiled again instead of loaded, which could crash
 * the process with no message.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import {
  libraryRecordPath,
  cachedLibraryProblem,
  cpuSignature,
  nativeCacheDirs,
  nativeSrcDir,
  writeLibraryRecord,
} from "../build.ts";

/** The compiler generated kernels use. */
export const codegenCompiler = (): string => process.env.RANKFUSE_CODEGEN_CXX ?? process.env.CXX ?? "g++";

/** The flags of the engine's own build (build.ts), so vmath.h compiles to the same arithmetic. */
const FLAGS = ["-O3", "-march=native", "-fopenmp", "-fPIC", "-shared", "-std=c++17", "-fno-math-errno"];
const HEADERS = ["codegen.h", "vmath.h", "kernels.h"];

const versions = new Map<string, string | null>();
function compilerVersion(cxx: string): string | null {
  if (!versions.has(cxx)) {
    const v = spawnSync(cxx, ["--version"], { encoding: "utf8" });
    versions.set(cxx, v.error || v.status !== 0 ? null : v.stdout);
  }
  return versions.get(cxx)!;
}

let headerText: string | undefined;
const headers = (): string =>
  (headerText ??= HEADERS.map((h) => readFileSync(path.join(nativeSrcDir, h), "utf8")).join("\0"));

/** A compiled kernel library: where it is, and whether it came from the cache. */
export interface KernelLibrary {
  readonly path: string;
  readonly fromCache: boolean;
}

/** The cache key of a source: the source, headers, compiler version, flags and CPU. */
export function kernelKey(source: string, version: string): string {
  return createHash("sha256")
    .update(source)
    .update("\0")
    .update(headers())
    .update("\0")
    .update(version)
    .update(FLAGS.join(" "))
    .update(process.arch)
    .update(cpuSignature())
    .digest("hex")
    .slice(0, 20);
}

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The shared object for `source`: from the cache, or compiled into it now. */
export function kernelLibrary(source: string): E.Either<string, KernelLibrary> {
  const cxx = codegenCompiler();
  const version = compilerVersion(cxx);
  if (version === null) return E.left(`C++ compiler '${cxx}' not available`);
  const key = kernelKey(source, version);
  const dirs = nativeCacheDirs().map((d) => path.join(d, "kernels"));
  for (const file of dirs.map((d) => path.join(d, `${key}.so`)).filter((f) => existsSync(f))) {
    const problem = cachedLibraryProblem(file);
    if (problem === null) return E.right({ path: file, fromCache: true });
    console.error(`rankfuse: the generated kernel ${file} ${problem}; compiling it again`);
    rmSync(file, { force: true });
    rmSync(libraryRecordPath(file), { force: true });
  }
  const dir = dirs.find(writable);
  if (dir === undefined) return E.left(`no writable folder for generated kernels in ${dirs.join(", ")}`);
  const cc = path.join(dir, `${key}.cc`);
  const target = path.join(dir, `${key}.so`);
  const stem = path.join(dir, `${key}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const [tmpCc, tmp] = [`${stem}.cc`, `${stem}.so`]; // a concurrent compile of the same key has its own
  writeFileSync(tmpCc, source);
  const built = spawnSync(cxx, [...FLAGS, `-I${nativeSrcDir}`, tmpCc, "-o", tmp], { encoding: "utf8" });
  renameSync(tmpCc, cc); // kept beside the library, for reading
  if (built.error || built.status !== 0) {
    rmSync(tmp, { force: true });
    const why = built.error?.message ?? (built.stderr || built.stdout).split("\n").slice(0, 3).join(" ");
    return E.left(`compiling a generated kernel (${cc}) failed: ${why}`);
  }
  try {
    // the record first, then the library, each renamed into place (atomic): a concurrent compile of the
    // same key leaves identical files
    writeLibraryRecord(tmp, libraryRecordPath(target));
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (!existsSync(target) || cachedLibraryProblem(target) !== null)
      return E.left(`cannot move a generated kernel into ${target}: ${(e as Error).message}`);
  }
  return E.right({ path: target, fromCache: false });
}
