import * as E from "fp-ts/lib/Either.js";
import { BACKEND_NAMES, AUTO_ORDER, loadBackend } from "../backends/registry.ts";
import { parseFlags } from "./args.ts";

/** `rankfuse backends`: what can run here, what auto picks, and why the others cannot. */
export async function backends(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {});
  if (values.help) return console.log("rankfuse backends: list the backends available on this machine"), 0;
  for (const name of BACKEND_NAMES) {
    const be = await loadBackend(name);
    console.log(`${name.padEnd(10)} ${E.isRight(be) ? `available  ${be.right.describe()}` : `unavailable  ${be.left.message}`}`);
  }
  const auto = await loadBackend("auto");
  console.log(`\nauto -> ${E.isRight(auto) ? auto.right.name : "none"} (order: ${AUTO_ORDER.join(", ")}${process.env.RANKFUSE_BACKEND ? `; RANKFUSE_BACKEND=${process.env.RANKFUSE_BACKEND}` : ""})`);
  return 0;
}
