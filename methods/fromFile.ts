/**
 * Methods from the user's own files: `rankfuse train --method ./my-method.ts` imports the file and takes
 * its default export (or its export named `method`), a `Method` written against the package's public
 * entry points. Whatever is wrong with the file (missing, failing to import, exporting no method or
 * something else) is one ConfigError naming it; so is a `build` that throws or returns no model.
 */
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { RankfuseError } from "../ir/errors.ts";
import { sha256Hex } from "../util/hash.ts";
import type { Method } from "./method.ts";
import { checkMethod, guardBuild } from "./conform.ts";

/** Where a method from a file came from: the file's absolute path and the sha256 of its contents. */
export interface MethodSource {
  readonly path: string;
  readonly sha256: string;
}

/** A method loaded from a file, with its source. */
export interface FileMethod {
  readonly method: Method;
  readonly source: MethodSource;
}

const EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

/** Whether a `--method` value names a file (starts with ./ ../ or /, or ends in .ts .mts .js .mjs) rather than a built-in. */
export const isMethodPath = (name: string): boolean =>
  /^\.{1,2}[\\/]/.test(name) || path.isAbsolute(name) || EXTENSIONS.some((x) => name.endsWith(x));

const fail = (message: string): E.Either<RankfuseError, never> => E.left({ tag: "ConfigError", message });

/** An error's message on one line (tsx's syntax errors span several), cut to a readable length. */
const oneLine = (e: unknown): string => {
  const s = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ").trim();
  return s.length > 400 ? `${s.slice(0, 399)}…` : s;
};

/** Why importing a method file failed, in one line, with what to do where the user's setup can fix it. */
function importFailure(file: string, abs: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  if ((code === "ERR_REQUIRE_CYCLE_MODULE" || code === "ERR_REQUIRE_ESM") && !/\.m[tj]s$/.test(abs))
    return `method file ${file} was loaded as CommonJS, and rankfuse is an ES module: put it under a package.json with "type": "module", or name it .mts/.mjs`;
  const hint =
    code === "ERR_UNKNOWN_FILE_EXTENSION"
      ? " (this Node cannot import TypeScript by itself: compile the file to .js, or run rankfuse through tsx: node --import tsx ...)"
      : "";
  return `method file ${file}: importing it failed: ${oneLine(e)}${hint}`;
}

/** The method a module exports: `default`, else `method`. */
const exported = (mod: Record<string, unknown>): unknown => mod.default ?? mod.method;

/** Hashes a method file's contents, or says why it cannot (`file` as messages name it). */
function readSource(file: string, abs: string): E.Either<RankfuseError, MethodSource> {
  if (!EXTENSIONS.some((x) => abs.endsWith(x)))
    return fail(`method file ${file}: expected a ${EXTENSIONS.join(", ")} file`);
  try {
    return E.right({ path: abs, sha256: sha256Hex(fs.readFileSync(abs)) });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") return fail(`method file ${file}: no such file${file.startsWith(abs) ? "" : ` (${abs})`}`);
    if (code === "EISDIR") return fail(`method file ${file} is a directory`);
    return fail(`method file ${file}: cannot read it: ${oneLine(e)}`);
  }
}

/** The refusal of a method file whose contents differ from those that trained `run`. */
export const methodFileChanged = (recorded: MethodSource, now: MethodSource, run: string): RankfuseError => ({
  tag: "ConfigError",
  message: `method file ${recorded.path} has changed since it trained ${run} (sha256 ${recorded.sha256.slice(0, 12)}… then, ${now.sha256.slice(0, 12)}… now): restore that version to use this run, or train a new one`,
});

/**
 * Imports a method file (relative to `cwd`) and checks its export. With `recorded` (the source a run
 * recorded), a file whose contents changed since is refused before it is imported, naming `run`.
 */
export async function loadMethodFile(
  file: string,
  opts: { cwd?: string; recorded?: MethodSource; run?: string } = {},
): Promise<E.Either<RankfuseError, FileMethod>> {
  const abs = path.resolve(opts.cwd ?? process.cwd(), file);
  const source = readSource(opts.recorded ? `${file} (which trained ${opts.run ?? "its run"})` : file, abs);
  if (E.isLeft(source)) return source;
  if (opts.recorded && opts.recorded.sha256 !== source.right.sha256)
    return E.left(methodFileChanged(opts.recorded, source.right, opts.run ?? "its run"));
  let mod: Record<string, unknown>;
  try {
    // the content hash in the URL: an edited file is a new module, never a stale cached one (long-lived processes)
    mod = (await import(`${pathToFileURL(abs).href}?sha256=${source.right.sha256}`)) as Record<string, unknown>;
  } catch (e) {
    return fail(importFailure(file, abs, e));
  }
  const value = exported(mod);
  if (value === undefined)
    return fail(
      `method file ${file} exports no method: default-export a Method ({ name, summary, build }), or export it as \`method\``,
    );
  const problems = checkMethod(value);
  if (problems.length > 0) return fail(`method file ${file}: its export is not a Method: ${problems.join("; ")}`);
  return E.right({ method: guardBuild(value as Method, file), source: source.right });
}
