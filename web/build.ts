/**
 * Builds the playground into build/web (not dist/, which is what the package ships): the page, its two
 * esbuild bundles (the UI and the training worker), tfjs-backend-wasm's .wasm files (the wasm backend
 * fetches them at run time), and a slice of a public-domain book as the built-in training text. The
 * bundle must be browser-safe, so the build fails when the metafile shows any Node built-in module
 * among its inputs.
 */
import * as esbuild from "esbuild";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { gutenbergDir, readTextFile } from "../train/corpus.ts";

const WEB = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT = path.join(WEB, "..", "build", "web");

/** The built-in text: the opening of Emma (Jane Austen, 1816; public domain), cut at a paragraph end. */
export const SAMPLE_BOOK = "austen-emma";
export const SAMPLE_CHARS = 300_000;

export interface BuildResult {
  readonly outDir: string;
  /** Every input file of the bundles, for checking what ended up in them. */
  readonly inputs: readonly string[];
  readonly bundleBytes: number;
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Inputs that are Node built-ins (esbuild marks them external or fails; either way they must not be there). */
export function nodeModulesIn(meta: esbuild.Metafile): string[] {
  const found = new Set<string>();
  for (const [file, input] of Object.entries(meta.inputs)) {
    if (NODE_BUILTINS.has(file) || file.startsWith("node:")) found.add(file);
    for (const imp of input.imports)
      if (NODE_BUILTINS.has(imp.path) || imp.path.startsWith("node:")) found.add(`${imp.path} (imported by ${file})`);
  }
  return [...found];
}

function sampleText(): E.Either<string, string> {
  const text = readTextFile(path.join(gutenbergDir(), `${SAMPLE_BOOK}.txt`), true);
  if (E.isLeft(text)) return E.left(text.left.message);
  const cut = text.right.lastIndexOf("\n\n", SAMPLE_CHARS);
  return E.right(text.right.slice(0, cut > 0 ? cut : SAMPLE_CHARS) + "\n");
}

export async function buildPlayground(outDir = DEFAULT_OUT): Promise<E.Either<string, BuildResult>> {
  fs.mkdirSync(path.join(outDir, "wasm"), { recursive: true });
  let result: esbuild.BuildResult<{ metafile: true; write: true }>;
  try {
    result = await esbuild.build({
      entryPoints: { main: path.join(WEB, "main.ts"), worker: path.join(WEB, "worker.ts") },
      outdir: outDir,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      sourcemap: true,
      metafile: true,
      write: true,
      logLevel: "silent",
      // modules read env switches (RANKFUSE_PROFILE, RANKFUSE_DEBUG) that mean nothing in a page
      define: { "process.env": "{}" },
    });
  } catch (e) {
    return E.left(`esbuild failed: ${(e as Error).message}`);
  }
  const nodeMods = nodeModulesIn(result.metafile);
  if (nodeMods.length) return E.left(`the playground bundle pulls in Node modules: ${nodeMods.join(", ")}`);

  const wasmDist = path.join(
    path.dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/package.json")),
    "dist",
  );
  for (const f of fs.readdirSync(wasmDist).filter((f) => f.endsWith(".wasm")))
    fs.copyFileSync(path.join(wasmDist, f), path.join(outDir, "wasm", f));
  for (const f of ["index.html", "style.css"]) fs.copyFileSync(path.join(WEB, f), path.join(outDir, f));
  const text = sampleText();
  if (E.isLeft(text)) return E.left(`cannot build the sample text: ${text.left}`);
  fs.writeFileSync(path.join(outDir, "sample.txt"), text.right);

  const bundleBytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
  return E.right({ outDir, inputs: Object.keys(result.metafile.inputs), bundleBytes });
}
