/** `npm run web [-- --port N] [--build-only]`: builds the playground into build/web and serves it. */
import * as E from "fp-ts/lib/Either.js";
import { buildPlayground, DEFAULT_OUT } from "./build.ts";
import { serveStatic } from "./serve.ts";

function parseArgs(argv: readonly string[]): E.Either<string, { port: number; buildOnly: boolean }> {
  let port = 8080,
    buildOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--build-only") buildOnly = true;
    else if (a === "--port" || a.startsWith("--port=")) {
      const v = a.includes("=") ? a.slice(7) : argv[++i];
      port = Number(v);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        return E.left(`--port must be an integer in 0..65535, got ${v}`);
    } else return E.left(`unknown option ${a}: use --port N or --build-only`);
  }
  return E.right({ port, buildOnly });
}

const args = parseArgs(process.argv.slice(2));
if (E.isLeft(args)) {
  console.error(`rankfuse web: ${args.left}`);
  process.exit(2);
}
const built = await buildPlayground();
if (E.isLeft(built)) {
  console.error(`rankfuse web: ${built.left}`);
  process.exit(1);
}
console.log(`built ${DEFAULT_OUT} (${(built.right.bundleBytes / 1e6).toFixed(1)} MB of bundles)`);
if (!args.right.buildOnly) {
  try {
    const { url } = await serveStatic(DEFAULT_OUT, args.right.port);
    console.log(`rankfuse playground: ${url}  (Ctrl-C to stop)`);
  } catch (e) {
    console.error(`rankfuse web: cannot listen on port ${args.right.port}: ${(e as Error).message}`);
    process.exit(1);
  }
}
