/** Markdown building blocks for run reports: tables that read well both rendered and as plain text. */
import { formatNumber } from "../util/format.ts";

export { formatNumber };

/**
 * A number that is not an integer is shown at 4 significant digits; integers print exactly. A missing
 * value (null: how JSON stores a NaN a result had, e.g. a step that was not run) prints as "-".
 */
export const cellText = (c: string | number | null | undefined): string =>
  (c === null || c === undefined
    ? "-"
    : typeof c === "number"
      ? Number.isInteger(c)
        ? String(c)
        : formatNumber(c, 4)
      : c
  )
    .replace(/\r?\n/g, " ")
    .replace(/\|/g, "\\|");

/** Numbers, or strings that look like formatted numbers ("1.2M", "-3.5e-4", "12%", "inf"). */
export const looksNumeric = (c: string | number | null | undefined): boolean =>
  c === null ||
  c === undefined ||
  typeof c === "number" ||
  /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?[kMGTPE%]?$|^[-+]?inf$|^NaN$/.test(c.trim());

/**
 * A GitHub-flavoured table. Columns whose non-empty cells are all numeric
 * are right-aligned so digits line up; cells are padded so the source is
 * readable too. Short rows are padded; a row longer than the header throws.
 */
export const markdownTable = (headers: string[], rows: (string | number | null)[][]): string => {
  for (const r of rows)
    if (r.length > headers.length)
      throw new RangeError(`table row has ${r.length} cells for ${headers.length} headers`);
  const cells = rows.map((r) => headers.map((_, j) => (j < r.length ? cellText(r[j]) : "")));
  const numeric = headers.map((_, j) => {
    const col = rows.map((r) => r[j]).filter((c) => c !== undefined && c !== "");
    return col.length > 0 && col.every(looksNumeric);
  });
  const head = headers.map(cellText);
  const width = head.map((h, j) => Math.max(3, h.length, ...cells.map((r) => r[j].length)));
  const pad = (s: string, j: number) => (numeric[j] ? s.padStart(width[j]) : s.padEnd(width[j]));
  const line = (r: string[]) => `| ${r.map(pad).join(" | ")} |`;
  const rule = `| ${width.map((w, j) => (numeric[j] ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`;
  return [line(head), rule, ...cells.map(line)].join("\n") + "\n";
};
