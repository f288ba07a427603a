/**
 * A layer file, as `rankfuse bench fusion --layer FILE` loads it: a module exporting `layer` (a DSL
 * function), `shapes` (its argument specs, a pytree of `spec(...)` as compile's `args`), and optionally
 * `dims` (sizes of unbound dims, overridable by --dims) and `name`; or a default export with those
 * fields. A .ts file loads where TypeScript runs (the repository's `node cli/bin.js`, or Node with tsx:
 * `node --import tsx`). Every problem is one line, for the command to print.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as E from "fp-ts/lib/Either.js";
import { flatten } from "../ir/tree.ts";
import { isSpec, type TensorSpec } from "../dsl/spec.ts";

/** What a layer file provides. */
export interface LayerModule {
  readonly layer: (...args: never[]) => unknown;
  readonly shapes: readonly unknown[];
  readonly dims: Readonly<Record<string, number>>;
  readonly name: string;
}

const describe = (x: unknown): string =>
  x === null ? "null" : typeof x === "object" ? ((x as object).constructor?.name ?? "object") : typeof x;

/** Checks a loaded module's exports (or its default export) against the layer file's shape. */
export function layerModuleFrom(mod: Record<string, unknown>, file: string): E.Either<string, LayerModule> {
  const src = (typeof mod.layer === "function" ? mod : (mod.default ?? {})) as Record<string, unknown>;
  const where = path.basename(file);
  if (typeof src.layer !== "function")
    return E.left(
      `${where} exports no layer: export const layer = (params, x) => ..., and shapes (or a default { layer, shapes })`,
    );
  if (!Array.isArray(src.shapes))
    return E.left(
      `${where} exports no shapes: export const shapes = [...] as const, one spec(...) tree per argument of layer`,
    );
  let leaves: TensorSpec[];
  try {
    leaves = flatten(src.shapes, isSpec).leaves;
  } catch (e) {
    const copy = /TensorSpec/.test((e as Error).message)
      ? " (a spec from another copy of rankfuse: import rankfuse the way the command does)"
      : "";
    return E.left(`${where}: shapes must hold only spec(...) values: ${(e as Error).message}${copy}`);
  }
  if (!leaves.length) return E.left(`${where}: shapes has no spec(...) in it`);
  const dims = src.dims ?? {};
  if (typeof dims !== "object" || dims === null || !Object.values(dims).every((v) => Number.isInteger(v) && v > 0))
    return E.left(`${where}: dims must map dim names to positive integers, got ${JSON.stringify(dims)}`);
  if (src.name !== undefined && typeof src.name !== "string")
    return E.left(`${where}: name must be a string, got ${describe(src.name)}`);
  return E.right({
    layer: src.layer as LayerModule["layer"],
    shapes: src.shapes,
    dims: dims as Record<string, number>,
    name: (src.name as string | undefined) ?? path.basename(file).replace(/\.[cm]?[jt]s$/, ""),
  });
}

/** Imports a layer file and checks it; a missing file, a syntax error or a .ts Node cannot load is a Left. */
export async function loadLayerModule(file: string): Promise<E.Either<string, LayerModule>> {
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ERR_MODULE_NOT_FOUND" && (err.message ?? "").includes(abs))
      return E.left(`cannot read layer file ${file}: no such file`);
    if (err.code === "ERR_UNKNOWN_FILE_EXTENSION")
      return E.left(
        `cannot load ${file}: this Node runs no TypeScript; run the command with tsx (node --import tsx ...) or give a .js layer file`,
      );
    const lines = (err.message ?? String(e)).split("\n").filter((l) => l.trim());
    // a compiler's "Transform failed with 1 error:" says where on its next line
    const what = lines[0]?.endsWith(":") && lines[1] ? `${lines[0]} ${lines[1].trim()}` : (lines[0] ?? String(e));
    if (/require\(\) ES Module|outside a module/.test(what))
      return E.left(
        `cannot load ${file} as an ES module: name it .mts, or put it in a package whose package.json has "type": "module"`,
      );
    return E.left(`cannot load layer file ${file}: ${what}`);
  }
  return layerModuleFrom(mod, file);
}
