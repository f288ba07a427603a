// Preloaded into a measured command (node --import): prints its peak resident set size on exit.
process.on("exit", () => process.stderr.write(`\nmaxRSS_KB=${process.resourceUsage().maxRSS}\n`));
