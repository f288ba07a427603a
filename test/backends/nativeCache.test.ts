import { afterEach, describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeAddonPath, nativeCacheDirs } from "../../backends/native/build.ts";

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
