import { UsageError } from "./args.ts";

const HELP = `rankfuse: pre-train language models with low-rank layers

usage: rankfuse <command> [flags]     (rankfuse <command> --help for its flags)

commands:
  compare    train several methods on the same data and tokens; print a table, write a report
  train      train one model (full rank or CoLA) on text, with checkpoints and validation
  prepare    tokenize a corpus (.txt/.md, .jsonl(.gz), parquet) once into token files on disk
  cache      list the cache's prepared token files and their sizes; \`cache clear\` deletes them
  eval       validation loss, perplexity and bits/byte of a run or an export
  export     write a run's weights as safetensors + config.json
  inspect    parameters, FLOPs per token and the plan of a model (paper sizes too)
  demo       compile one CoLA layer, run forward+backward, print the plan and a gradient check
  bench      time your own layer fused against unfused (rankfuse bench fusion --layer FILE)
  backends   list the backends available on this machine`;

type Command = (argv: string[]) => Promise<number>;
const commands: Record<string, () => Promise<Command>> = {
  compare: async () => (await import("./compare.ts")).compareCommand,
  train: async () => (await import("./train.ts")).trainCommand,
  prepare: async () => (await import("./prepare.ts")).prepareCommand,
  cache: async () => (await import("./cache.ts")).cacheCommand,
  eval: async () => (await import("./eval.ts")).evalCommand,
  export: async () => (await import("./export.ts")).exportCommand,
  inspect: async () => (await import("./inspect.ts")).inspectCommand,
  demo: async () => (await import("./demo.ts")).demo,
  bench: async () => (await import("./bench.ts")).benchCommand,
  backends: async () => (await import("./backends.ts")).backends,
};

/** Runs one command; returns the exit code (2 for usage errors). */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") return (console.log(HELP), cmd ? 0 : 2);
  const load = commands[cmd];
  if (!load)
    return (console.error(`rankfuse: unknown command "${cmd}" (commands: ${Object.keys(commands).join(", ")})`), 2);
  try {
    return await (
      await load()
    )(rest);
  } catch (e) {
    if (e instanceof UsageError) return (console.error(`rankfuse ${cmd}: ${e.message}`), 2);
    throw e;
  }
}
