import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import {
  libraryRecordPath,
  cachedLibraryProblem,
  nativeAddonPath,
  nativeCacheDirs,
} from "../../backends/native/build.ts";

/** Where built addons go: the package's own .cache first, a user cache folder second, or only RANKFUSE_NATIVE_CACHE. */
describe("native addon cache folders", () => {
  const saved = { cache: process.env.RANKFUSE_NATIVE_CACHE, xdg: process.env.XDG_CACHE_HOME };
  afterEach(() => {
    for (const [k, v] of [
      ["RANKFUSE_NATIVE_CACHE", saved.cache],
      ["XDG_CACHE_HOME", saved.xdg],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("are the package's .cache/rankfuse/native, then the user's cache folder", () => {
    delete process.env.RANKFUSE_NATIVE_CACHE;
    process.env.XDG_CACHE_HOME = "/somewhere/cache";
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
    expect(nativeCacheDirs()).toEqual([
      path.join(root, ".cache", "rankfuse", "native"),
      path.join("/somewhere/cache", "rankfuse", "native"),
    ]);
  });

  it("are RANKFUSE_NATIVE_CACHE alone when it is set", () => {
    process.env.RANKFUSE_NATIVE_CACHE = "some/dir";
    expect(nativeCacheDirs()).toEqual([path.resolve("some/dir")]);
  });

  it("a folder that cannot be created is a Left naming it, not a throw", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-cache-")), "a-file");
    fs.writeFileSync(file, "");
    process.env.RANKFUSE_NATIVE_CACHE = path.join(file, "native");
    const built = nativeAddonPath();
    fs.rmSync(path.dirname(file), { recursive: true });
    if (E.isRight(built)) throw new Error(`expected a Left, got ${built.right}`);
    // without a compiler or Node's headers the build stops earlier, for that reason
    if (!/compiler|headers/.test(built.left))
      expect(built.left).toMatch(/^no writable folder for the build \(set RANKFUSE_NATIVE_CACHE to one\): .*a-file/);
  });
});

/** A cached addon is checked against the size and sha256 recorded beside it at build time before it loads. */
describe("a cached native addon that does not match its record", () => {
  const saved = process.env.RANKFUSE_NATIVE_CACHE;
  afterEach(() => {
    if (saved === undefined) delete process.env.RANKFUSE_NATIVE_CACHE;
    else process.env.RANKFUSE_NATIVE_CACHE = saved;
  });

  it("is told apart from the file that was built: truncated, one byte changed, or with no record", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-addon-record-"));
    const file = path.join(dir, "rankfuse.node");
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    fs.writeFileSync(file, bytes);
    expect(cachedLibraryProblem(file)).toBe("has no record of its size and sha256 (built by an older rankfuse)");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    fs.writeFileSync(libraryRecordPath(file), JSON.stringify({ size: 4096, sha256 }));
    expect(cachedLibraryProblem(file)).toBeNull();
    fs.writeFileSync(file, bytes.subarray(0, 1000));
    expect(cachedLibraryProblem(file)).toBe("is 1000 bytes, not the 4096 it was built with (truncated or damaged)");
    const changed = Buffer.from(bytes);
    changed[100] ^= 1;
    fs.writeFileSync(file, changed);
    expect(cachedLibraryProblem(file)).toBe("does not match the sha256 recorded when it was built (damaged)");
    fs.rmSync(dir, { recursive: true });
  });

  // a copy of the package's cached addon (built here first if needed) in a temp cache folder
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-addon-cache-"));
  afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));
  delete process.env.RANKFUSE_NATIVE_CACHE;
  const own = nativeAddonPath();
  if (saved !== undefined) process.env.RANKFUSE_NATIVE_CACHE = saved;
  const built = E.map((addon: string) => {
    const copy = path.join(cache, path.basename(path.dirname(addon)), "rankfuse.node");
    fs.mkdirSync(path.dirname(copy));
    fs.copyFileSync(addon, copy);
    fs.copyFileSync(libraryRecordPath(addon), libraryRecordPath(copy));
    return copy;
  })(own);

  it.skipIf(E.isLeft(built))(
    "truncated in the cache, it is rebuilt with one line, and the process loads it (no SIGBUS)",
    () => {
      const file = E.isRight(built) ? built.right : "";
      expect(file.startsWith(cache)).toBe(true);
      expect(cachedLibraryProblem(file)).toBeNull();
      const size = fs.statSync(file).size;
      fs.truncateSync(file, Math.floor(size / 2));
      const script = path.join(cache, "load.mts");
      const buildTs = path.join(
        path.dirname(fileURLToPath(import.meta.url)),
        "..",
        "..",
        "backends",
        "native",
        "build.ts",
      );
      fs.writeFileSync(
        script,
        `import { loadNativeAddon } from ${JSON.stringify(buildTs)};\n` +
          `const a = loadNativeAddon();\n` +
          `console.log(a._tag === "Right" ? "loaded " + a.right.gemmKernel() : "not loaded: " + a.left);\n`,
      );
      const r = spawnSync(process.execPath, ["--import", "tsx", script], {
        encoding: "utf8",
        env: { ...process.env, RANKFUSE_NATIVE_CACHE: cache },
        timeout: 300_000,
      });
      expect(r.signal).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^loaded \w+/);
      expect(r.stderr.trim()).toBe(
        `[rankfuse] native: the cached addon ${file} is ${Math.floor(size / 2)} bytes, not the ${size} it was built with (truncated or damaged): rebuilding it`,
      );
      expect(fs.statSync(file).size).toBe(size);
      expect(cachedLibraryProblem(file)).toBeNull();
    },
    300_000,
  );
});
