/**
 * The report folder of `rankfuse compare`: report.md and report.html (the same content: a quality and a
 * cost table, three figures, then the setup and the run's provenance), the figures as SVG files, and
 * results.json.
 */
import fs from "node:fs";
import path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { writeFileAtomic } from "../train/atomicFile.ts";
import { causeMessage, trainError, type TrainError } from "../train/errors.ts";
import { markdownTable } from "./markdownTable.ts";
import { compareFigures, type Figure } from "./compareCharts.ts";
import { COST_HEADERS, costRows, QUALITY_HEADERS, qualityRows, TABLE_NOTES } from "./compareTables.ts";
import { escapeHtml, htmlFacts, htmlFigure, htmlPage, htmlTable } from "./htmlPage.ts";
import { metadataEntries, type RunMetadata } from "./runMetadata.ts";
import type { CompareRow } from "./compareRow.ts";

export type { CompareRow } from "./compareRow.ts";
export { TABLE_HEADERS, tableRows, QUALITY_HEADERS, qualityRows, COST_HEADERS, costRows } from "./compareTables.ts";

/**
 * More of a report (a learning-rate sweep's): a section after the figures, in report.md and report.html
 * alike, its figures written next to report.md, and fields added to results.json.
 */
export interface ReportSection {
  readonly heading: string;
  /** Plain-text paragraphs before the table. */
  readonly paragraphs: readonly string[];
  readonly table: { readonly headers: string[]; readonly rows: (string | number)[][] };
  readonly figures: readonly Figure[];
  /** Plain-text notes after the figures. */
  readonly notes: readonly string[];
  readonly json: Record<string, unknown>;
}

const figureMd = (f: Figure) => [`![${f.caption}](${f.file})`, "", `*${f.caption}*`, ""];

/** The setup's entries as label–value text (objects as JSON). */
const setupEntries = (setup: Record<string, unknown>): [string, string][] =>
  Object.entries(setup).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]);

const title = (rows: readonly CompareRow[]) => `rankfuse compare: ${rows.map((r) => r.method).join(", ")}`;

/** Label–value pairs as a markdown list. */
const mdList = (entries: readonly [string, string][]) => entries.map(([k, v]) => `- ${k}: ${v}`).join("\n");

/** report.md's text. */
export function compareMarkdown(
  rows: readonly CompareRow[],
  setup: Record<string, unknown>,
  figures: readonly Figure[],
  metadata?: RunMetadata,
  extra?: ReportSection,
): string {
  return [
    `# ${title(rows)}`,
    "",
    "## Quality",
    "",
    markdownTable(QUALITY_HEADERS, qualityRows(rows)),
    TABLE_NOTES.quality,
    "",
    "## Cost",
    "",
    markdownTable(COST_HEADERS, costRows(rows)),
    TABLE_NOTES.cost,
    "",
    "## Figures",
    "",
    ...figures.flatMap(figureMd),
    ...(extra
      ? [
          `## ${extra.heading}`,
          "",
          ...extra.paragraphs.flatMap((p) => [p, ""]),
          markdownTable(extra.table.headers, extra.table.rows),
          ...extra.figures.flatMap(figureMd),
          ...extra.notes.flatMap((p) => [p, ""]),
        ]
      : []),
    "## Setup",
    "",
    mdList(setupEntries(setup)),
    "",
    ...(metadata ? ["## Run", "", mdList(metadataEntries(metadata)), ""] : []),
  ].join("\n");
}

/** report.html's text: report.md's content as one self-contained page. */
export function compareHtml(
  rows: readonly CompareRow[],
  setup: Record<string, unknown>,
  figures: readonly Figure[],
  metadata?: RunMetadata,
  extra?: ReportSection,
): string {
  const note = (s: string) => `<p class="note">${escapeHtml(s)}</p>`;
  return htmlPage(
    title(rows),
    [
      `<h2>Quality</h2>`,
      htmlTable(QUALITY_HEADERS, qualityRows(rows)),
      note(TABLE_NOTES.quality),
      `<h2>Cost</h2>`,
      htmlTable(COST_HEADERS, costRows(rows)),
      note(TABLE_NOTES.cost),
      `<h2>Figures</h2>`,
      ...figures.map((f) => htmlFigure(f.svg, f.caption)),
      ...(extra
        ? [
            `<h2>${escapeHtml(extra.heading)}</h2>`,
            ...extra.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
            htmlTable(extra.table.headers, extra.table.rows),
            ...extra.figures.map((f) => htmlFigure(f.svg, f.caption)),
            ...extra.notes.map(note),
          ]
        : []),
      `<h2>Setup</h2>`,
      htmlFacts(setupEntries(setup), "setup"),
      ...(metadata ? [`<h2>Run</h2>`, htmlFacts(metadataEntries(metadata))] : []),
    ].join("\n"),
  );
}

/**
 * Writes report.md, report.html, loss.svg, val.svg, throughput.svg and results.json into `dir`; returns the
 * markdown, or the first write that failed (each file is written atomically: a failure leaves no torn file).
 * `metadata` (date, commit, machine, command) goes into all three documents where given, and so does
 * `extra`'s section (its figures are written too).
 */
export function writeCompareReport(
  dir: string,
  rows: readonly CompareRow[],
  setup: Record<string, unknown>,
  metadata?: RunMetadata,
  extra?: ReportSection,
): E.Either<TrainError, string> {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (cause) {
    return E.left(trainError("DataError", `cannot create ${dir}: ${causeMessage(cause)}`));
  }
  const figures = compareFigures(rows);
  const md = compareMarkdown(rows, setup, figures, metadata, extra);
  const files: [string, string][] = [
    ...[...figures, ...(extra?.figures ?? [])].map((f) => [f.file, f.svg] as [string, string]),
    ["report.md", md],
    ["report.html", compareHtml(rows, setup, figures, metadata, extra)],
    ["results.json", JSON.stringify({ ...(metadata ? { metadata } : {}), setup, rows, ...extra?.json }, null, 1)],
  ];
  for (const [name, text] of files) {
    const w = writeFileAtomic(path.join(dir, name), new TextEncoder().encode(text), "DataError");
    if (E.isLeft(w)) return w;
  }
  return E.right(md);
}
