import { markdownTable } from "../train/reportMarkdown.ts";
import { saveSuite, type SuiteResult } from "./report.ts";

/** `npm run bench [-- suite...]`: runs the suites one after another (never two at once) and saves each. */
const SUITES: Record<string, () => Promise<{ run: () => Promise<SuiteResult> }>> = {
  remat: () => import("./remat.ts"),
  native: () => import("./native.ts"),
};

const asked = process.argv.slice(2);
const unknown = asked.filter((s) => !SUITES[s]);
if (unknown.length) {
  console.error(`bench: unknown suite ${unknown.join(", ")} (suites: ${Object.keys(SUITES).join(", ")})`);
  process.exit(2);
}
for (const name of asked.length ? asked : Object.keys(SUITES)) {
  const r = await (await SUITES[name]!()).run();
  console.log(`\n## ${r.title}\n\n${markdownTable(r.headers, r.rows)}\n${(r.notes ?? []).map((n) => `- ${n}`).join("\n")}`);
  console.log(`saved ${saveSuite(name, r)}`);
}
