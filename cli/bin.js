#!/usr/bin/env node
// `node cli/bin.js` in the repository: runs the TypeScript sources through tsx's loader (no build step).
// An installed package's `rankfuse` command is dist/cli/bin.js, compiled from cli/bin.ts.
import { register } from "tsx/esm/api";

register();
await import("./bin.ts");
