/**
 * Builds and loads the native float32 engine (backends/native/src, a plain N-API addon) without
 * node-gyp: g++ compiles every source straight into a shared object, tuned for this CPU
 * (-march=native), cached as <cache>/<key>/rankfuse.node (see nativeCacheDirs). The key hashes the
 * sources, the compiler version, Node's version, the architecture and the CPU's model and flags, so
 * a change in any of them rebuilds. Beside the addon, rankfuse.node.json records its size and sha256
 * at build time; a cached addon that does not match it (truncated, damaged, or older than the record)
 * is rebuilt, never loaded (loading a truncated shared object can kill the process with SIGBUS).
 * Failure is a Left with one human-readable reason, never a throw.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/lib/Either.js";

/** An opaque handle to a loaded generated kernel (NativeAddon.loadKernel). */
export type GeneratedKernel = { readonly __generatedKernel: unique symbol };

/** Op codes of `unary` (and the activation codes of `lowrankForward`: 0 identity, 6, 7, 8). */
export const UnaryOp = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  tanh: 4,
  sigmoid: 5,
  silu: 6,
  gelu: 7,
  relu: 8,
  dsilu: 9,
  dgelu: 10,
  drelu: 11,
} as const;
/** Op codes of `binary`. */
export const BinaryOp = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, equal: 5 } as const;
/** Op codes of `reduce`. */
export const ReduceOp = { sum: 0, max: 1, mean: 2 } as const;

/**
 * The addon's functions. Arrays are row-major; every output is preallocated by the caller and
 * written in place. Wrong argument types or counts throw TypeError; buffers shorter than the sizes
 * given, unknown op codes and out-of-range ids throw RangeError.
 */
export interface NativeAddon {
  /**
   * out[i] = op(a[i]) · op(b[i]) for i < batch, a[i] M×K and b[i] K×N (one b for all i when bShared);
   * op transposes: a[i] is then stored K×M, b[i] N×K.
   */
  matmul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    batch: number,
    M: number,
    K: number,
    N: number,
    bShared: boolean,
    transA: boolean,
    transB: boolean,
  ): void;
  /**
   * out = init + op(a) · op(b), as matmul with the same sizes and flags: each output tile starts from
   * init (laid out as out) and the GEMM accumulates onto it, so the sum costs no pass of its own.
   */
  matmulAdd(
    a: Float32Array,
    b: Float32Array,
    init: Float32Array,
    out: Float32Array,
    batch: number,
    M: number,
    K: number,
    N: number,
    bShared: boolean,
    transA: boolean,
    transB: boolean,
  ): void;
  /** out = op(x) elementwise over x.length elements; op from UnaryOp. */
  unary(op: number, x: Float32Array, out: Float32Array): void;
  /** out = x op y; strides (in elements, 0 = broadcast) index x and y along each output axis. */
  binary(
    op: number,
    x: Float32Array,
    y: Float32Array,
    out: Float32Array,
    outShape: Int32Array,
    xStrides: Int32Array,
    yStrides: Int32Array,
  ): void;
  /** Reduces the axes with reduceMask[i] = 1 (sum in double, max, mean); out holds the kept axes in order. */
  reduce(op: number, x: Float32Array, out: Float32Array, shape: Int32Array, reduceMask: Int32Array): void;
  /** out = x permuted: out axis k is x axis perm[k]. Moves 4-byte words, so Int32Array works too. */
  transpose(x: Float32Array | Int32Array, out: Float32Array | Int32Array, shape: Int32Array, perm: Int32Array): void;
  /** out (outShape) = x read with xStrides (0 on broadcast axes). Float32Array or Int32Array. */
  broadcastTo(
    x: Float32Array | Int32Array,
    out: Float32Array | Int32Array,
    outShape: Int32Array,
    xStrides: Int32Array,
  ): void;
  /** Softmax of each row of `width`; with causalT > 0, row r is query r % causalT and later columns get 0. */
  softmax(x: Float32Array, out: Float32Array, rows: number, width: number, causalT: number): void;
  logSoftmax(x: Float32Array, out: Float32Array, rows: number, width: number): void;
  /** out = x / sqrt(mean(x^2) + eps) * w, per row of `width`. */
  rmsnorm(x: Float32Array, w: Float32Array, out: Float32Array, rows: number, width: number, eps: number): void;
  /** Rotary embedding, half-split convention; row r is position r % T; inverse rotates by -theta. */
  rope(x: Float32Array, out: Float32Array, rows: number, T: number, Dh: number, base: number, inverse: boolean): void;
  /**
   * rope on [.., T, H, Dh] rows (row r is position (r / H) % T), times `scale` before or after the rotation:
   * sizes [rows, T, H, Dh, scaleAt + 1] with scaleAt -1 (x · scale, then rotate), 0 (no scale), 1 (rotate, then · scale).
   */
  ropeHeads(x: Float32Array, out: Float32Array, sizes: Int32Array, base: number, inverse: boolean, scale: number): void;
  /** out[i, :] = table[ids[i], :] (table V x D, out ids.length x D). */
  gather(table: Float32Array, ids: Int32Array, out: Float32Array, V: number, D: number): void;
  /** out[ids[i], :] += values[i, :] (out V x D, zero-filled by the caller). */
  scatterAdd(values: Float32Array, ids: Int32Array, out: Float32Array, V: number, D: number): void;
  /** out[r] = logsumexp(logits[r, :]) - logits[r, targets[r]]. */
  crossEntropy(logits: Float32Array, targets: Int32Array, out: Float32Array, rows: number, V: number): void;
  /** out (ids.length x depth) = one-hot rows (zero-filled here; out-of-range ids give a zero row). */
  oneHot(ids: Int32Array, out: Float32Array, depth: number): void;
  fill(out: Float32Array, value: number): void;
  /** out (n x dOut) = act(x (n x dIn) . A (dIn x r)) . B (r x dOut), fused tile by tile; act 0, 6, 7 or 8. */
  lowrankForward(
    x: Float32Array,
    A: Float32Array,
    B: Float32Array,
    out: Float32Array,
    n: number,
    dIn: number,
    r: number,
    dOut: number,
    act: number,
  ): void;
  /**
   * lowrankForward with an epilogue (out = y + e or y * e; sizes[5] = BinaryOp add or mul) and the rank-r values
   * z = x·A and h = act(z) written out; an empty Float32Array means "no epilogue" / "not wanted". sizes: [n, dIn, r, dOut, act, epilogue].
   */
  lowrankForwardEx(
    x: Float32Array,
    A: Float32Array,
    B: Float32Array,
    e: Float32Array,
    out: Float32Array,
    z: Float32Array,
    h: Float32Array,
    sizes: Int32Array,
  ): void;
  /**
   * The tail link of a longer chain, tile by tile: out (n x dOut) = act(x (n x r))·B (r x dOut), with the
   * same epilogue as lowrankForwardEx and h = act(x) written out where non-empty. sizes: [n, r, dOut, act, epilogue].
   */
  lowrankTailForward(
    x: Float32Array,
    B: Float32Array,
    e: Float32Array,
    out: Float32Array,
    h: Float32Array,
    sizes: Int32Array,
  ): void;
  /**
   * Fused backward of y = act(x·A)·B, tile by tile: dZ = (dY·Bᵀ) ⊙ act'(z); dX = dZ·Aᵀ (+ acc), dA = xᵀ·dZ, dB = hᵀ·dY,
   * dZ itself; an empty Float32Array means "not wanted" (outputs) or "not needed" (inputs). sizes: [n, dIn, r, dOut, act].
   */
  lowrankBackward(
    dY: Float32Array,
    B: Float32Array,
    z: Float32Array,
    A: Float32Array,
    acc: Float32Array,
    x: Float32Array,
    h: Float32Array,
    dX: Float32Array,
    dA: Float32Array,
    dB: Float32Array,
    dZ: Float32Array,
    sizes: Int32Array,
  ): void;
  /**
   * Fused causal attention over bh slices (attention.cc): O (bh×T×dv) = softmax_causal(q·kᵀ)·v, q and k bh×T×dk;
   * P (bh×T×T) is written where non-empty. sizes: [bh, T, dk, dv[, heads]]; with heads > 0, every operand but P
   * is [bh / heads, T, heads, d] (the layout before the head split) instead of [bh, T, d].
   */
  attentionForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    O: Float32Array,
    P: Float32Array,
    sizes: Int32Array,
  ): void;
  /** Its backward from dO: dQ, dK, dV where non-empty; P the forward's probabilities, or empty to recompute them. */
  attentionBackward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    dO: Float32Array,
    P: Float32Array,
    dQ: Float32Array,
    dK: Float32Array,
    dV: Float32Array,
    sizes: Int32Array,
  ): void;
  /** A generated kernel's entry point (backends/native/codegen), from the library at `path`; throws if it cannot load. */
  loadKernel(path: string, symbol: string): GeneratedKernel;
  /**
   * Runs a generated kernel: outputs (contiguous, the loop's shape) from inputs read through strides;
   * meta = [rank, shape, strides of each input]. Buffers too short for them throw RangeError.
   * An input may be an Int32Array (read as int32 by the kernel); `outLengths`, one per output, gives
   * the length each output must have where it is not the loop's size.
   */
  runKernel(
    kernel: GeneratedKernel,
    inputs: (Float32Array | Int32Array)[],
    outputs: Float32Array[],
    meta: Int32Array,
    outLengths?: Int32Array,
  ): void;
  /**
   * A matmul with a generated elementwise epilogue (matmul_epilogue.cc): y = op(a)·op(b) one block of
   * output rows at a time, the kernel run on each block with inputs [y's block, extras...] and outputs
   * outs; sizes = [batch, M, K, N, bShared, transA, transB], strides = [row, column stride of each extra];
   * an empty y: the product is not kept.
   */
  runMatmulEpilogue(
    kernel: GeneratedKernel,
    abc: [Float32Array, Float32Array, Float32Array],
    extras: Float32Array[],
    outputs: Float32Array[],
    sizes: Int32Array,
    strides: Int32Array,
  ): void;
  /** OpenMP threads used by parallel kernels. */
  threads(): number;
  setThreads(n: number): void;
  /** The GEMM micro-kernel in use: "avx512", "avx2" or "generic". */
  gemmKernel(): string;
  /** Forces a micro-kernel ("avx512" | "avx2" | "generic" | "auto"); false if this CPU lacks it. For tests and benchmarks. */
  setGemmKernel(name: string): boolean;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The C++ sources: beside this file in the repository, or under the package root when it runs compiled from dist/. */
const srcDir =
  [path.join(here, "src"), path.join(here, "..", "..", "..", "backends", "native", "src")].find((d) => existsSync(d)) ??
  path.join(here, "src");
const packageRoot = path.resolve(srcDir, "..", "..", "..");
/** The C++ sources and headers of the engine (generated kernels include its headers from here). */
export const nativeSrcDir = srcDir;
const compiler = (): string => process.env.CXX ?? "g++";

function nodeIncludeDir(): E.Either<string, string> {
  const candidates = [
    path.join(path.dirname(process.execPath), "..", "include", "node"),
    process.env.RANKFUSE_NODE_INCLUDE,
  ];
  const found = candidates.find((dir) => dir !== undefined && existsSync(path.join(dir, "node_api.h")));
  return found
    ? E.right(path.resolve(found))
    : E.left(
        `Node headers (node_api.h) not found next to ${process.execPath} (../include/node); set RANKFUSE_NODE_INCLUDE to the folder holding node_api.h`,
      );
}

/** Model name and flags of the first CPU (what -march=native compiles for). */
export function cpuSignature(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8").split("\n\n")[0] ?? "";
    return info
      .split("\n")
      .filter((l) => /^(model name|flags|Features|CPU part)\s*:/.test(l))
      .join("\n");
  } catch {
    return os.cpus()[0]?.model ?? "unknown cpu";
  }
}

function sources(): string[] {
  return readdirSync(srcDir)
    .filter((f) => /\.(cc|h)$/.test(f))
    .sort();
}

/**
 * Folders that hold built addons (<dir>/<key>/rankfuse.node), first choice first: RANKFUSE_NATIVE_CACHE
 * alone when set; else the package's own .cache/rankfuse/native (the repository's, or
 * node_modules/rankfuse/.cache/... when installed), then the user's cache folder ($XDG_CACHE_HOME or
 * ~/.cache, /rankfuse/native) for a package folder this user cannot write (a global install by root).
 */
export function nativeCacheDirs(): string[] {
  const set = process.env.RANKFUSE_NATIVE_CACHE;
  if (set) return [path.resolve(set)];
  let userCache = process.env.XDG_CACHE_HOME;
  try {
    userCache ||= path.join(os.homedir(), ".cache");
  } catch {
    userCache = path.join(os.tmpdir(), "rankfuse-cache"); // no home folder known for this user
  }
  return [path.join(packageRoot, ".cache", "rankfuse", "native"), path.join(userCache, "rankfuse", "native")];
}

/** Creates `dir` if needed; null when it exists and this process may write there, else why not. */
function writableDir(dir: string): string | null {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return null;
  } catch (e) {
    return `${dir}: ${(e as Error).message}`;
  }
}

/**
 * The record of a built library (the addon, a generated kernel), beside it: `{"size": bytes, "sha256": hex}`
 * of the file as it was built.
 */
export const libraryRecordPath = (library: string): string => `${library}.json`;

/** Writes the record of `file` (its size and sha256) to `record`, through a temporary file renamed into place. */
export function writeLibraryRecord(file: string, record: string): void {
  const tmp = `${record}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(digestOf(readFileSync(file))) + "\n");
  renameSync(tmp, record);
}

const digestOf = (bytes: Uint8Array) => ({
  size: bytes.length,
  sha256: createHash("sha256").update(bytes).digest("hex"),
});

/**
 * Why the cached library at `file` (the addon, a generated kernel) must not be loaded, or null when it is
 * the file that was built: its size and sha256 against the record written beside it at build time.
 */
export function cachedLibraryProblem(file: string): string | null {
  let record: { size?: unknown; sha256?: unknown };
  try {
    record = JSON.parse(readFileSync(libraryRecordPath(file), "utf8"));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT"
      ? "has no record of its size and sha256 (built by an older rankfuse)"
      : `has a damaged record (${(e as Error).message})`;
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    return `cannot be read (${(e as Error).message})`;
  }
  const now = digestOf(bytes);
  if (now.size !== record.size)
    return `is ${now.size} bytes, not the ${String(record.size)} it was built with (truncated or damaged)`;
  if (now.sha256 !== record.sha256) return "does not match the sha256 recorded when it was built (damaged)";
  return null;
}

/** First lines of a failed command's output, for a one-paragraph reason. */
const firstLines = (text: string, n = 12): string =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(0, n)
    .join("\n");

/**
 * Path of the compiled addon, building it first when the cache has none for this source, compiler,
 * Node and CPU, or when the one it has does not match its record (said in one line on stderr). Left
 * names the one reason it could not be built.
 */
export function nativeAddonPath(): E.Either<string, string> {
  const include = nodeIncludeDir();
  if (E.isLeft(include)) return include;
  const cxx = compiler();
  const version = spawnSync(cxx, ["--version"], { encoding: "utf8" });
  if (version.error || version.status !== 0) {
    return E.left(
      `C++ compiler '${cxx}' not available (${version.error?.message ?? firstLines(version.stderr ?? "", 2)}); install g++ to use the native backend`,
    );
  }
  let files: string[];
  try {
    files = sources();
  } catch (e) {
    return E.left(`native sources not readable in ${srcDir}: ${(e as Error).message}`);
  }
  const hash = createHash("sha256");
  for (const f of files)
    hash
      .update(`${f}\0`)
      .update(readFileSync(path.join(srcDir, f)))
      .update("\0");
  hash.update(version.stdout).update(process.version).update(process.arch).update(cpuSignature());
  const key = hash.digest("hex").slice(0, 16);
  const dirs = nativeCacheDirs().map((d) => path.join(d, key));
  const cached = dirs.map((d) => path.join(d, "rankfuse.node")).find((f) => existsSync(f));
  if (cached) {
    const problem = cachedLibraryProblem(cached);
    if (problem === null) return E.right(cached);
    console.error(`[rankfuse] native: the cached addon ${cached} ${problem}: rebuilding it`);
  }

  const refusals: string[] = [];
  const outDir = dirs.find((d) => {
    const why = writableDir(d);
    if (why) refusals.push(why);
    return why === null;
  });
  if (outDir === undefined)
    return E.left(`no writable folder for the build (set RANKFUSE_NATIVE_CACHE to one): ${refusals.join("; ")}`);
  const target = path.join(outDir, "rankfuse.node");
  const tmp = path.join(outDir, `rankfuse.${process.pid}.${randomBytes(4).toString("hex")}.tmp.node`);
  const args = [
    "-O3",
    "-march=native",
    "-fopenmp",
    "-fPIC",
    "-shared",
    "-std=c++17",
    "-fno-math-errno",
    `-I${include.right}`,
    ...files.filter((f) => f.endsWith(".cc")).map((f) => path.join(srcDir, f)),
    "-o",
    tmp,
    "-ldl",
  ];
  const built = spawnSync(cxx, args, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  if (built.error || built.status !== 0) {
    rmSync(tmp, { force: true });
    try {
      rmdirSync(outDir); // only if empty: leave a concurrent build's result alone
    } catch {
      /* not empty, or already gone */
    }
    const detail = built.error?.message ?? firstLines(built.stderr || built.stdout || `exit status ${built.status}`);
    return E.left(`compiling the native addon failed:\n${detail}\n(command: ${cxx} ${args.join(" ")})`);
  }
  // the record first, then the addon, each renamed into place (atomic): a concurrent build of the same
  // key replaces them with identical files
  const recordTmp = `${tmp}.json`;
  try {
    writeFileSync(recordTmp, JSON.stringify(digestOf(readFileSync(tmp))) + "\n");
    renameSync(recordTmp, libraryRecordPath(target));
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    rmSync(recordTmp, { force: true });
    if (!existsSync(target) || cachedLibraryProblem(target) !== null)
      return E.left(`cannot move the built addon into ${target}: ${(e as Error).message}`);
  }
  return E.right(target);
}

let loaded: E.Either<string, NativeAddon> | undefined;

/** The addon, built if needed and loaded once per process (the result, Left included, is memoized). */
export function loadNativeAddon(): E.Either<string, NativeAddon> {
  if (loaded) return loaded;
  const built = nativeAddonPath();
  if (E.isLeft(built)) return (loaded = built);
  // libgomp reads its settings when the addon loads it. By default idle OpenMP threads spin for ~3 ms
  // after each parallel region (OMP_WAIT_POLICY=active: minutes). When the CPUs are shared with other
  // processes, the spinning thread steals the core from the one still working: measured on a busy
  // 2-core machine, a 64K-element silu took 35-340 us with a 10K spin count, 1.5-3 ms with the
  // default, and 40-85 us with passive waiting (a futex wake-up per region). Passive is the robust
  // default; either variable set by the user wins.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined)
    process.env.OMP_WAIT_POLICY = "passive";
  try {
    const addon = createRequire(import.meta.url)(built.right) as NativeAddon;
    const missing = ["matmul", "unary", "lowrankForward", "lowrankTailForward", "threads"].filter(
      (f) => typeof (addon as unknown as Record<string, unknown>)[f] !== "function",
    );
    loaded =
      missing.length === 0 ? E.right(addon) : E.left(`native addon at ${built.right} lacks ${missing.join(", ")}`);
  } catch (e) {
    loaded = E.left(`loading the native addon ${built.right} failed: ${(e as Error).message}`);
  }
  return loaded;
}
