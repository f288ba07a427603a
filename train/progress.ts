/**
 * Training progress for humans. On a terminal: one line redrawn in place
 * (bar, step/total, loss, tokens/s, ETA). Anywhere else (log files, CI):
 * plain lines, rate-limited so logs stay readable, and always the last
 * step, so the final numbers are never lost.
 */
import { formatDuration, formatNumber } from "../util/format.ts";

export type ProgressStream = { write(s: string): unknown; isTTY?: boolean; columns?: number };
export type ProgressFields = { loss?: number; tokPerSec?: number; [k: string]: number | string | undefined };

export type ProgressOptions = {
  total: number;
  stream?: ProgressStream;
  label?: string;
  /** Non-TTY: print once this many steps passed since the last line (default: 1% of total). */
  everySteps?: number;
  /** Non-TTY: ...or once this many seconds passed. */
  everySeconds?: number;
  /** Milliseconds clock, injectable for tests. */
  now?: () => number;
};

export type Progress = {
  /** `step` is the number of completed steps (1..total). */
  update(step: number, fields?: ProgressFields): void;
  /** A permanent line (eval results, checkpoints) that does not disturb the status line. */
  log(line: string): void;
  done(): void;
};

const BAR_WIDTH = 20;
const CLEAR_LINE = "\r\x1b[2K";

const bar = (fraction: number): string => {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
};

/** The fields after step/total, in a stable order: loss, tok/s, then the caller's extras, then ETA. */
const describe = (fields: ProgressFields, etaSeconds: number): string[] => {
  const { loss, tokPerSec, ...rest } = fields;
  const parts: string[] = [];
  if (loss !== undefined) parts.push(`loss ${loss.toFixed(4)}`);
  if (tokPerSec !== undefined) parts.push(`tok/s ${formatNumber(tokPerSec, 3)}`);
  for (const [k, v] of Object.entries(rest)) {
    if (v !== undefined) parts.push(`${k} ${typeof v === "number" ? formatNumber(v, 4) : v}`);
  }
  parts.push(`eta ${formatDuration(etaSeconds)}`);
  return parts;
};

export const createProgress = (opts: ProgressOptions): Progress => {
  const { total, label, now = Date.now } = opts;
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const everySteps = opts.everySteps ?? Math.max(1, Math.ceil(total / 100));
  const everyMs = (opts.everySeconds ?? 10) * 1000;
  const width = String(total).length;
  // ETA from the average time per step since the first update, which leaves out start-up and compile time.
  let first: { step: number; t: number } | undefined;
  let last: { step: number; text: string } | undefined;
  let printed: { step: number; t: number } | undefined;
  let statusShown = false;

  const format = (step: number, fields: ProgressFields, t: number): string => {
    const perStep = first && step > first.step ? (t - first.t) / (step - first.step) : NaN;
    const head = [label, tty ? bar(step / total) : undefined, `${String(step).padStart(width)}/${total}`].filter(
      Boolean,
    );
    return [...head, ...describe(fields, ((total - step) * perStep) / 1000)].join(" ");
  };

  const draw = (text: string): void => {
    const cols = stream.columns ?? 0;
    stream.write(CLEAR_LINE + (cols > 1 && text.length >= cols ? text.slice(0, cols - 1) : text));
    statusShown = true;
  };

  const printLine = (step: number, text: string, t: number): void => {
    stream.write(text + "\n");
    printed = { step, t };
  };

  return {
    update(step, fields = {}) {
      const t = now();
      first ??= { step, t };
      const text = format(step, fields, t);
      last = { step, text };
      if (tty) return draw(text);
      if (!printed || step >= total || step - printed.step >= everySteps || t - printed.t >= everyMs)
        printLine(step, text, t);
    },
    log(line) {
      if (tty && statusShown) stream.write(CLEAR_LINE);
      stream.write(line + "\n");
      if (tty && last) draw(last.text);
    },
    done() {
      if (tty) {
        if (statusShown) stream.write("\n");
        statusShown = false;
      } else if (last && printed?.step !== last.step) {
        printLine(last.step, last.text, now());
      }
    },
  };
};
