/**
 * The source tree's import graph by top-level folder, read from the import statements of every
 * TypeScript file (tests, node_modules and build output excluded).
 */
import fs from "node:fs";
import path from "node:path";

/** The layers, lowest first: a folder may import only from its own layer or one listed before it. */
export const LAYERS: readonly (readonly string[])[] = [
  ["util"],
  ["ir"],
  ["dsl"],
  ["passes"],
  ["run"],
  ["backends"],
  ["models"],
  ["train"],
  ["methods"],
  ["export"],
  ["report"],
  ["testing"],
  ["entry"],
  ["cli", "web", "bench", "examples"],
];

/** One import that crosses folders: the importing file, the imported file, and their folders. */
export interface CrossImport {
  readonly file: string;
  readonly target: string;
  readonly from: string;
  readonly to: string;
}

const SKIP = new Set(["node_modules", "dist", "test", ".git", ".cache", "runs", "build"]);
const IMPORT = /(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/gs;

/** The folder a repository path belongs to; files at the root are the package's entry points. */
export const folderOf = (rel: string): string => (rel.includes("/") ? rel.split("/")[0]! : "entry");

/** Every import from one top-level folder into another, under `root`. */
export function crossImports(root: string): CrossImport[] {
  const out: CrossImport[] = [];
  const walk = (dir: string) => {
    for (const ent of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${ent.name}` : ent.name;
      if (ent.isDirectory()) {
        if (!SKIP.has(ent.name)) walk(rel);
      } else if (/\.(ts|mts)$/.test(ent.name) && !ent.name.endsWith(".d.ts")) {
        const src = fs.readFileSync(path.join(root, rel), "utf8");
        for (const m of src.matchAll(IMPORT)) {
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), m[1] ?? m[2]!));
          const [from, to] = [folderOf(rel), folderOf(target)];
          if (from !== to) out.push({ file: rel, target, from, to });
        }
      }
    }
  };
  walk("");
  return out;
}

/** The layer index of a folder, or -1 for a folder no layer lists. */
export const layerOf = (folder: string): number => LAYERS.findIndex((l) => l.includes(folder));

/** Imports that point up the layers (or into a folder no layer lists), one line each. */
export function layerViolations(root: string): string[] {
  return crossImports(root)
    .filter(
      (c) =>
        layerOf(c.from) < 0 ||
        layerOf(c.to) < 0 ||
        layerOf(c.to) > layerOf(c.from) ||
        (layerOf(c.to) === layerOf(c.from) && c.from !== c.to && layerOf(c.from) < LAYERS.length - 1),
    )
    .map((c) => `${c.file} imports ${c.target} (${c.from} may not import ${c.to})`);
}
