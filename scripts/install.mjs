/**
 * The package's `install` script: builds the native addon with g++ (backends/native/build.ts) and
 * always exits 0, since the native backend is optional. An installed package runs the compiled
 * dist/backends/native/buildCli.js; in the repository, where `npm ci` runs before dist/ is built, it
 * runs the TypeScript source through tsx (a devDependency there).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const compiled = path.join(root, "dist", "backends", "native", "buildCli.js");
const source = path.join(root, "backends", "native", "buildCli.ts");

try {
  if (existsSync(compiled)) await import(pathToFileURL(compiled).href);
  else if (existsSync(source)) {
    const { register } = await import("tsx/esm/api");
    register();
    await import(pathToFileURL(source).href);
  } else console.log("rankfuse native addon not built: neither dist/ nor the sources are here");
} catch (e) {
  console.log(`rankfuse native addon not built: ${e instanceof Error ? e.message : String(e)}`);
}
process.exitCode = 0;
