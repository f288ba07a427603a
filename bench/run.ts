import { markdownTable } from "../report/markdownTable.ts";
import { saveSuite, type SuiteResult } from "./report.ts";

/**
 * `npm run bench [-- suite...] [--quick] [--paper]`: runs the suites one after another (never two at once)
 * and saves each (bench/results/<suite>.json, .md, charts, summary.md). --quick gives each suite its short
 * settings (fewer repeats and sizes) for smoke runs; --paper adds the paper's 60m config to the peers
 * suite (rankfuse-native and PyTorch). A suite that fails is reported and the others still run.
 */
type Suite = { run: (opts?: any) => Promise<SuiteResult> };
const SUITES: Record<string, { load: () => Promise<Suite>; quick: Record<string, unknown> }> = {
  remat: { load: () => import("./remat.ts"), quick: { repeats: 1, shapes: ["tiny"] } },
  native: { load: () => import("./native.ts"), quick: { repeats: 2, presets: ["tiny"] } },
  peers: { load: () => import("./peers.ts"), quick: { quick: true } },
  scaling: { load: () => import("./scaling.ts"), quick: { quick: true } },
  trainStep: { load: () => import("./trainStep.ts"), quick: { quick: true } },
  fusion: { load: () => import("./fusion.ts"), quick: { quick: true } }, // also reads --quick from argv itself
  corpus: { load: () => import("./corpus.ts"), quick: { quick: true } },
};

const args = process.argv.slice(2);
const FLAGS = ["--quick", "--paper"];
const quick = args.includes("--quick");
const paper = args.includes("--paper");
const asked = args.filter((a) => !FLAGS.includes(a));
const unknown = asked.filter((s) => !SUITES[s]);
if (unknown.length) {
  console.error(
    `bench: unknown suite or flag ${unknown.join(", ")} (suites: ${Object.keys(SUITES).join(", ")}; flags: ${FLAGS.join(", ")})`,
  );
  process.exit(2);
}
const failed: string[] = [];
for (const name of asked.length ? asked : Object.keys(SUITES)) {
  const t0 = Date.now();
  try {
    const suite = SUITES[name]!;
    const r = await (await suite.load()).run({ ...(quick ? suite.quick : {}), ...(paper ? { paper: true } : {}) });
    console.log(
      `\n## ${r.title}\n\n${markdownTable(r.headers, r.rows)}\n${(r.notes ?? []).map((n) => `- ${n}`).join("\n")}`,
    );
    console.log(`saved ${saveSuite(name, r)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } catch (e) {
    failed.push(name);
    console.error(
      `bench: suite ${name} failed after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${(e as Error).stack ?? e}`,
    );
  }
}
if (failed.length) {
  console.error(`bench: failed suites: ${failed.join(", ")}`);
  process.exit(1);
}
