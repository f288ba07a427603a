/**
 * axe-core in a page under test: injects its axe.min.js (the devDependency, read from node_modules;
 * nothing is fetched) and runs every rule on the whole document.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

/** One rule axe-core found broken: its id, impact, what it asks for, and the elements (CSS selectors). */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  readonly nodes: readonly string[];
}

/** The violations of impact critical or serious in the page as it is now, printed where there are any (unless `quiet`). */
export async function seriousViolations(page: Page, quiet = false): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => "axe" in window)))
    await page.addScriptTag({
      content: fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8"),
    });
  const all = await page.evaluate(async () => {
    type Result = { id: string; impact: string; help: string; nodes: { target: string[] }[] };
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: Result[] }> } }).axe;
    const r = await axe.run();
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  const bad = all.filter((v) => v.impact === "critical" || v.impact === "serious");
  if (bad.length && !quiet) console.error(`axe-core violations:\n${JSON.stringify(bad, null, 2)}`);
  return bad;
}
