#!/usr/bin/env node
// `node cli/bin.js` in the repository: runs the TypeScript sources through tsx's loader (no build step).
// An installed package's `rankfuse` command is dist/cli/bin.js, compiled from cli/bin.ts.
// The repository's tsconfig.json, wherever the command runs from: its `paths` resolve "rankfuse" and
// "rankfuse/*" in a user's method file (--method ./my-method.ts) to these same sources, never to dist/.
import { register } from "tsx/esm/api";
import { fileURLToPath } from "node:url";

register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
await import("./bin.ts");
