/**
 * `npm run build`: compiles the library, its entry points and the CLI to ESM JavaScript and .d.ts in
 * dist/ (tsconfig.build.json). tsc rewrites the sources' `.ts` import specifiers to `.js` in the
 * JavaScript but not in the declarations, so this rewrites them there, and fails if any is left that
 * a consumer's tsc would reject.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");

/** Every file under `dir` whose name ends with `suffix`. */
function filesUnder(dir, suffix) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

/** Relative module specifiers in import/export/import() positions that end in `.ts`. */
const TS_SPECIFIER = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.\.?\/[^"']*?)\.ts\2/g;

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { stdio: "inherit" });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

const left = [];
for (const file of filesUnder(dist, ".d.ts")) {
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(TS_SPECIFIER, "$1$2$3.js$2");
  if (fixed !== text) writeFileSync(file, fixed);
  for (const m of fixed.matchAll(/["']\.\.?\/[^"']*\.ts["']/g)) left.push(`${path.relative(root, file)}: ${m[0]}`);
}
if (left.length) {
  console.error(`build: .ts specifiers left in declarations:\n${left.join("\n")}`);
  process.exit(1);
}
chmodSync(path.join(dist, "cli", "bin.js"), 0o755);
console.log(`build: ${filesUnder(dist, ".js").length} modules and their declarations in ${path.relative(root, dist)}/`);
