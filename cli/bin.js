#!/usr/bin/env node
// The `rankfuse` command: runs the TypeScript sources through tsx's loader (no build step).
import { register } from "tsx/esm/api";

register();
// `rankfuse inspect | head` closes stdout early. Stop printing instead of dying with a stack trace (and
// keep working: a training run piped into head should still finish and write its checkpoints).
process.stdout.on("error", (e) => {
  if (e.code !== "EPIPE") throw e;
});
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2));
