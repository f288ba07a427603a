#!/usr/bin/env node
/** The `rankfuse` command. The package's bin runs its compiled form (dist/cli/bin.js); cli/bin.js runs this source through tsx. */
import { main } from "./main.ts";

// `rankfuse inspect | head` closes stdout early. Stop printing instead of dying with a stack trace (and
// keep working: a training run piped into head should still finish and write its checkpoints).
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
});
process.exitCode = await main(process.argv.slice(2));
