import type { PrepareProgress } from "../train/prepare.ts";

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;

/**
 * A progress line on stderr for a long preparation: rewritten in place on a
 * terminal, a line every 10 s otherwise (logs). Short runs print nothing.
 */
export function dataProgress(label = "prepare"): (p: PrepareProgress) => void {
  const start = Date.now();
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  let printed = false;
  return (p) => {
    const s = (Date.now() - start) / 1000;
    if (p.phase === "done") {
      if (printed)
        process.stderr.write(
          `${tty ? "\r\x1b[K" : ""}${label}: done, ${mb(p.bytesTotal)} in ${s.toFixed(1)} s, ${p.tokens.toLocaleString("en-US")} tokens\n`,
        );
      return;
    }
    if (s < 2 || (!tty && Date.now() - lastLine < 10_000)) return;
    lastLine = Date.now();
    printed = true;
    const pct = p.bytesTotal > 0 ? ((100 * p.bytesDone) / p.bytesTotal).toFixed(0) : "?";
    const resumed = p.resumedFiles > 0 ? ` (continued after ${p.resumedFiles} files)` : "";
    const line = `${label}: ${pct}% ${mb(p.bytesDone)} of ${mb(p.bytesTotal)}, ${mb(p.bytesDone / s)}/s, ${p.tokens.toLocaleString("en-US")} tokens, ${p.file}${resumed}`;
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  };
}
