import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeAddonPath, nativeCacheDirs } from "../../backends/native/build.ts";
import { CUDA_PACKAGE } from "../../backends/cuda/backend.ts";
import { CONSUMER_MAIN, CONSUMER_PACKAGE, CONSUMER_TSCONFIG } from "./consumer.ts";

/**
 * The package as a user gets it: `npm pack` (which builds dist/), `npm install` of the tarball into a
 * fresh project (its install script builds or finds the native addon from compiled JavaScript), a
 * strict nodenext type-check of a script importing every entry point, and that script run with plain
 * node. Installs come from the npm cache (`npm ci` has filled it). The addon cache is the repository's
 * (RANKFUSE_NATIVE_CACHE), so the install finds the addon this checkout built, under the key hashed from
 * the sources the tarball ships: a missing or changed source would mean a different key and a rebuild.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const INSTALL = ["--prefer-offline", "--no-audit", "--no-fund", "--foreground-scripts"];

/** The environment without the npm_* settings of an enclosing `npm test` (its prefix would redirect installs). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|userconfig|globalconfig|registry|cafile|proxy|https_proxy|noproxy|strict_ssl)$/i;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || keep.test(k)));
  delete env.RANKFUSE_BACKEND; // the script runs on the default backend
  return { ...env, ...extra };
}

/** Runs a command to completion; a non-zero exit fails with its output. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${cwd}) failed: ${r.error?.message ?? `exit ${r.status}`}\n${r.stdout}\n${r.stderr}`,
    );
  }
  return r;
}

describe("the packed package, installed and imported as a user would", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-pack-"));
  const project = path.join(tmp, "project");
  const installed = path.join(project, "node_modules", "rankfuse");
  const cacheDir = nativeCacheDirs()[0]!;
  const env = cleanEnv({ RANKFUSE_NATIVE_CACHE: cacheDir });
  let native: E.Either<string, string> = E.left("not built yet");
  let tarball = "",
    installLog = "",
    files: string[] = [];

  beforeAll(() => {
    native = nativeAddonPath(); // this checkout's addon, built into cacheDir if it was not there
    const packDir = path.join(tmp, "pack");
    fs.mkdirSync(packDir);
    run(NPM, ["pack", "--pack-destination", packDir], ROOT, env);
    tarball = path.join(
      packDir,
      fs.readdirSync(packDir).find((f) => f.endsWith(".tgz"))!,
    );
    files = run("tar", ["-tzf", tarball], tmp, env)
      .stdout.split("\n")
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ""));

    fs.mkdirSync(path.join(project, "src"), { recursive: true });
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(CONSUMER_PACKAGE, null, 2));
    fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
    fs.writeFileSync(path.join(project, "src", "main.ts"), CONSUMER_MAIN);
    const typescript = JSON.parse(
      fs.readFileSync(path.join(ROOT, "node_modules", "typescript", "package.json"), "utf8"),
    ).version as string;
    // fast-check is rankfuse/testing's peer: a user who imports that entry point installs it alongside
    const fastCheck = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "fast-check", "package.json"), "utf8"))
      .version as string;
    installLog = run(
      NPM,
      ["install", tarball, `typescript@${typescript}`, `fast-check@${fastCheck}`, ...INSTALL],
      project,
      env,
    ).stdout;
  }, 600_000);

  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("ships dist/, the native sources and the install script, and no tests, benchmarks, web sources or caches", () => {
    expect(files).toContain("dist/index.js");
    expect(files).toContain("dist/index.d.ts");
    expect(files).toContain("dist/cli/bin.js");
    expect(files).toContain("backends/native/src/gemm.cc");
    expect(files).toContain("backends/native/src/kernels.h");
    expect(files).toContain("scripts/install.mjs");
    const sources = fs.readdirSync(path.join(ROOT, "backends", "native", "src"));
    for (const f of sources) expect(files).toContain(`backends/native/src/${f}`);
    const unwanted = files.filter(
      (f) => /^(test|bench|web|\.cache|build|runs|dist\/web)\//.test(f) || (/\.ts$/.test(f) && !f.endsWith(".d.ts")),
    );
    expect(unwanted).toEqual([]);
  });

  it("the install script finds or builds the native addon from compiled JavaScript, without tsx", () => {
    if (process.env.RANKFUSE_REQUIRE_NATIVE) expect(E.isRight(native)).toBe(true);
    // the same key as this checkout's build: the tarball ships exactly the sources the key hashes
    expect(installLog).toContain(
      E.isRight(native) ? `rankfuse native addon: ${native.right}` : "rankfuse native addon not built",
    );
    expect(fs.existsSync(path.join(project, "node_modules", "tsx"))).toBe(false);
  });

  it("type-checks a strict nodenext project importing every entry point, and runs it with plain node", () => {
    const tsc = run(
      process.execPath,
      [path.join(project, "node_modules", "typescript", "bin", "tsc"), "-p", "."],
      project,
      env,
    );
    expect(tsc.stdout + tsc.stderr).toBe("");
    const out = run(process.execPath, [path.join("out", "main.js")], project, env).stdout;
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    expect(line, out).toBeDefined();
    const result = JSON.parse(line!.slice("RESULT ".length));
    expect(Number.isFinite(result.loss) && result.loss > 0).toBe(true);
    expect(result).toMatchObject({
      gradA: 32 * 8,
      gradB: 8 * 32,
      gradCheck: true,
      property: true,
      model: "cola",
      lr0: 0.5,
      fusedKinds: 5, // CHAIN_KINDS: lowrank, lowrankTail, lowrankBackward, attention, attentionBackward
      deepImport: "ERR_PACKAGE_PATH_NOT_EXPORTED",
    });
    expect(result.methods).toBeGreaterThan(3);
    expect(out).toMatch(/^plan: \d+ kernels/m);
    // where the addon built, auto picks native (or a hardware GPU): both run the layer as fused chains
    if (E.isRight(native)) {
      expect(out).toMatch(/fused\.lowrank\[act=silu r=8/);
      expect(out).toMatch(/fused\.lowrankBackward\[act=silu r=8/);
    }
  });

  it("has a rankfuse command that runs compiled JavaScript", () => {
    const help = run(path.join(project, "node_modules", ".bin", "rankfuse"), ["--help"], project, env);
    expect(help.stdout).toMatch(/^usage: rankfuse <command>/m);
  });

  it("declares every package its compiled JavaScript imports as a dependency (or, for rankfuse/testing's fast-check, an optional peer)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"));
    const peers = Object.keys(pkg.peerDependencies ?? {});
    expect(peers.every((p) => pkg.peerDependenciesMeta?.[p]?.optional === true)).toBe(true);
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...peers]);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const bare = new Set<string>();
    const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\.resolve\(\s*)["']([^"'.][^"']*)["']/g;
    for (const file of fs
      .readdirSync(path.join(installed, "dist"), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".js"))) {
      // doc comments hold examples of a user's code (rankfuse/testing's imports vitest): not imports of rankfuse's
      const code = fs.readFileSync(path.join(installed, "dist", file), "utf8").replace(/\/\*\*[^]*?\*\//g, "");
      for (const m of code.matchAll(specifier)) {
        const parts = m[1]!.split("/");
        bare.add(m[1]!.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!);
      }
    }
    const undeclared = [...bare].filter(
      (b) => !builtins.has(b) && !declared.has(b) && b !== CUDA_PACKAGE && b !== pkg.name,
    );
    expect(undeclared).toEqual([]);
    expect([...bare].filter((b) => declared.has(b)).sort()).toEqual([...declared].sort()); // and nothing declared is unused
    expect(declared.has(CUDA_PACKAGE) || declared.has("tsx")).toBe(false);
    expect(peers).toEqual(["fast-check"]); // a peer, so a user's property tests and rankfuse/testing share one fast-check
    expect(Object.keys(pkg.dependencies ?? {})).not.toContain("fast-check");
  });
});
