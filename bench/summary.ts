/**
 * bench/results/summary.md: every saved suite's table, notes and charts on one page, redrawn from the
 * suites' JSON files after each suite, so running one suite keeps the others' latest results.
 */
import fs from "node:fs";
import path from "node:path";
import { markdownTable } from "../report/markdownTable.ts";
import { renderChart, type SuiteChart } from "./charts.ts";
import { scalingCharts, type ScalingPoint } from "./scalingCharts.ts";

/** The JSON a suite leaves in bench/results/<suite>.json. */
export interface SavedSuite {
  suite: string;
  machine: Record<string, unknown>;
  title: string;
  headers: string[];
  rows: (string | number)[][];
  notes?: string[];
  charts?: SuiteChart[];
  data: unknown;
}

const machineLine = (m: Record<string, unknown>): string => {
  const load = Array.isArray(m.loadAverage) ? `, load ${(m.loadAverage as number[]).join(" ")}` : "";
  return `${String(m.date ?? "?")}: ${String(m.cpu ?? "?")}, ${String(m.cores ?? "?")} cores, ${String(m.memoryGiB ?? "?")} GiB, Node ${String(m.node ?? "?")}${load}`;
};

const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

/**
 * A suite's section heading: its title alone when the title already opens with the suite's name ("scaling:
 * step time …", "train step: …", "remat policies …"), else "suite: title", so no heading names the suite twice.
 */
export function sectionHeading(suite: string, title: string): string {
  const head = title.split(":")[0];
  return squash(head).startsWith(squash(suite)) ? title : `${suite}: ${title}`;
}

/** The summary page for these suites (in the given order); `unreadable` lists files that could not be parsed. */
export function summaryMarkdown(suites: readonly SavedSuite[], unreadable: readonly string[] = []): string {
  const out = [
    "# rankfuse benchmarks",
    "",
    "Written by `npm run bench`; each section is the latest run of its suite (`npm run bench -- <suite>`). Figures are medians of repeated runs after warm-up with [min-max]; ratios compare figures measured in the same run.",
    "",
  ];
  const first = suites[0]?.machine;
  if (first?.packages)
    out.push(
      `Packages: ${Object.entries(first.packages as Record<string, string>)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}.`,
      "",
    );
  if (first?.blas) out.push(`BLAS: ${String(first.blas)}.`, "");
  if (suites.length === 0) out.push("No suite has saved results yet.", "");
  for (const s of suites) {
    out.push(
      `## ${sectionHeading(s.suite, s.title)}`,
      "",
      `\`npm run bench -- ${s.suite}\` on ${machineLine(s.machine)}.`,
      "",
    );
    const extra = Object.entries(s.machine).filter(
      ([k]) =>
        !["date", "node", "cpu", "cores", "memoryGiB", "platform", "loadAverage", "packages", "blas"].includes(k),
    );
    for (const [k, v] of extra) out.push(`- ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
    if (extra.length) out.push("");
    for (const c of s.charts ?? []) out.push(`![${c.options.title}](${c.file})`, "");
    out.push(markdownTable(s.headers, s.rows), "");
    for (const n of s.notes ?? []) out.push(`- ${n}`);
    out.push("");
  }
  for (const f of unreadable) out.push(`- could not read ${f}`);
  return (
    out
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trimEnd() + "\n"
  );
}

/** Suites whose charts are rebuilt from their saved data, so results saved before a chart changed take its current form. */
const FROM_DATA: Record<string, (data: unknown) => SuiteChart[] | undefined> = {
  scaling: (d) => {
    const { points, layers } = (d ?? {}) as { points?: ScalingPoint[]; layers?: number };
    return Array.isArray(points) && typeof layers === "number" ? scalingCharts(points, layers) : undefined;
  },
};

/** A saved suite's charts: rebuilt from its data where the suite allows it, else the specs it saved. */
export function chartsOf(s: SavedSuite): SuiteChart[] {
  try {
    return FROM_DATA[s.suite]?.(s.data) ?? s.charts ?? [];
  } catch {
    return s.charts ?? [];
  }
}

/**
 * Reads every <suite>.json in `dir`, redraws each suite's charts (chartsOf: from its data where the suite
 * allows it, else its saved specs) with the renderer a run uses, so an old result takes the current look,
 * and writes `dir`/summary.md; returns its path.
 */
export function writeSummary(dir: string): string {
  const suites: SavedSuite[] = [];
  const unreadable: string[] = [];
  for (const f of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    try {
      const s = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as SavedSuite;
      if (typeof s.suite !== "string" || !Array.isArray(s.headers) || !Array.isArray(s.rows))
        throw new Error("not a suite result");
      const read = { ...s, machine: s.machine ?? {} };
      suites.push({ ...read, charts: chartsOf(read) });
    } catch {
      unreadable.push(f);
    }
  }
  for (const s of suites)
    for (const c of s.charts ?? []) {
      try {
        fs.writeFileSync(path.join(dir, path.basename(c.file)), renderChart(c));
      } catch (e) {
        unreadable.push(`${s.suite}.json's chart ${String(c?.file)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  const file = path.join(dir, "summary.md");
  fs.writeFileSync(file, summaryMarkdown(suites, unreadable));
  return file;
}
