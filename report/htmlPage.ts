/**
 * A report as one self-contained HTML page: no scripts, no external files, SVG figures inline. The
 * layout is a single column with a maximum width; tables and figures shrink to a phone's width.
 */
import { escapeXml as escapeHtml } from "./svg.ts";
import { cellText, looksNumeric } from "./markdownTable.ts";

/** Escapes text for HTML (the same rules as SVG's XML). */
export { escapeHtml };

/** An HTML table; columns whose cells are all numeric are right-aligned, like markdownTable's. */
export function htmlTable(headers: readonly string[], rows: readonly (string | number | null)[][]): string {
  // a ratio ("2.71x") or a size in bytes ("336kB") is a number too
  const number = (c: string | number | null) =>
    looksNumeric(typeof c === "string" ? c.replace(/(?<=\d[kMGTPE]?)(x|B)$/, "") : c);
  const numeric = headers.map((_, j) => rows.length > 0 && rows.every((r) => r[j] === "" || number(r[j])));
  const cls = (j: number) => (numeric[j] ? ` class="num"` : "");
  const head = headers.map((h, j) => `<th${cls(j)}>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map(
      (r) =>
        `<tr>${headers.map((_, j) => `<td${cls(j)}>${escapeHtml(cellText(r[j]).replace(/\\\|/g, "|"))}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** A definition list of label–value pairs (setup, run metadata); class "setup" sets short ones two pairs a row on wide screens. */
export const htmlFacts = (entries: readonly [string, string][], variant: "" | "setup" = ""): string =>
  `<dl class="facts${variant ? " " + variant : ""}">\n${entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("\n")}\n</dl>`;

/** A figure: the SVG inline, its caption under it. */
export const htmlFigure = (svg: string, caption: string): string =>
  `<figure>\n${svg.trim()}\n<figcaption>${escapeHtml(caption)}</figcaption>\n</figure>`;

const STYLE = `
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;background:#fff;margin:0 auto;max-width:960px;padding:16px}
h1{font-size:1.5em;margin:.3em 0} h2{font-size:1.2em;margin:1.2em 0 .4em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:bottom}
th{font-weight:600} .num{text-align:right}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px;margin:.5em 0}
dt{font-weight:600} dd{margin:0;overflow-wrap:anywhere}
figure{margin:1em 0} svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.9em;color:#555}
p.note{font-size:.9em;color:#444}
@media (min-width:720px){dl.setup{grid-template-columns:repeat(3,max-content minmax(0,1fr))}}
@media (max-width:640px){body{font-size:13px;padding:8px} th,td{padding:3px 4px}}
`;

/** A whole page: `title` as its heading, then `body` (already HTML). */
export const htmlPage = (title: string, body: string): string =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
