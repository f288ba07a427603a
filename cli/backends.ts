import * as E from "fp-ts/lib/Either.js";
import { BACKEND_NAMES, AUTO_ORDER, loadBackend, pickAuto } from "../backends/index.ts";
import { parseFlags } from "./args.ts";

const HELP = `rankfuse backends: list the backends available on this machine

For each backend: available (with versions and, for webgpu, the adapter: vendor, architecture,
description, and whether it is a software adapter) or unavailable and why. Then what \`auto\` picks
(order: ${AUTO_ORDER.join(", ")}; webgpu only on a hardware adapter) and why it passed over the others.
RANKFUSE_BACKEND or --backend NAME on other commands override auto.`;

/** `rankfuse backends`: what can run here, what auto picks, and why the others cannot. */
export async function backends(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {});
  if (values.help) return (console.log(HELP), 0);
  for (const name of BACKEND_NAMES) {
    const be = await loadBackend(name);
    console.log(
      `${name.padEnd(10)} ${E.isRight(be) ? `available    ${be.right.describe()}` : `unavailable  ${be.left.message}`}`,
    );
  }
  const { backend, passedOver } = await pickAuto();
  console.log(`\nauto -> ${backend ? backend.name : "none"} (order: ${AUTO_ORDER.join(", ")})`);
  for (const why of passedOver) console.log(`  passed over: ${why}`);
  const env = process.env.RANKFUSE_BACKEND;
  if (env && env !== "auto") console.log(`RANKFUSE_BACKEND=${env}: commands use ${env} instead of auto`);
  return 0;
}
