/**
 * Training metrics as JSON lines: one object per line, appended with a
 * direct write per record (no userspace buffer), so a crashed process
 * loses nothing it logged and a reader only ever sees at most one torn
 * last line — which `readMetrics` skips. Resume support: `truncateAfterStep`
 * drops records the resumed run is about to redo, so steps never repeat.
 */
import * as fs from "node:fs";
import * as E from "fp-ts/lib/Either.js";
import { causeMessage, trainError, type TrainError } from "./errors.ts";
import { writeFileAtomic, writeWhole } from "./atomicFile.ts";

export type MetricsRecord = Record<string, unknown>;

const fail = (message: string) => E.left(trainError("DataError", message));

const readText = (file: string): E.Either<TrainError, string> => {
  try {
    return E.right(fs.readFileSync(file, "utf8"));
  } catch (cause) {
    return fail(`cannot read metrics log ${file}: ${causeMessage(cause)}`);
  }
};

/** Complete lines of `text`: a last line without its newline is a write cut short by a crash, so it is dropped. */
const completeLines = (text: string): string[] => {
  const lines = text.split("\n");
  lines.pop(); // "" after a final newline, or the torn tail
  return lines.filter((l) => l.trim() !== "");
};

const parseLine = (file: string, line: string, n: number): E.Either<TrainError, MetricsRecord> => {
  try {
    const rec: unknown = JSON.parse(line);
    if (typeof rec === "object" && rec !== null && !Array.isArray(rec)) return E.right(rec as MetricsRecord);
  } catch {
    /* reported below */
  }
  return fail(`metrics log ${file} line ${n} is not a JSON object`);
};

/** All records of a log. A damaged line other than a torn last one is an error, not skipped: it means the file is not ours. */
export const readMetrics = (file: string): E.Either<TrainError, MetricsRecord[]> =>
  E.flatMap(readText(file), (text) => {
    const out: MetricsRecord[] = [];
    const lines = completeLines(text);
    for (let i = 0; i < lines.length; i++) {
      const rec = parseLine(file, lines[i], i + 1);
      if (E.isLeft(rec)) return rec;
      out.push(rec.right);
    }
    return E.right(out);
  });

/** What `truncateAfterStep` dropped: records after the step, and the bytes of a torn last line. */
export type Truncated = { readonly dropped: number; readonly tornBytes: number };

/**
 * Atomically rewrite the log without records whose numeric `step` exceeds
 * `step` (and without a torn last line). Records with no step (e.g. a
 * header) are kept. A missing log is fine: there is nothing to redo. An
 * unchanged log is not rewritten.
 */
export const truncateAfterStep = (file: string, step: number): E.Either<TrainError, Truncated> => {
  if (!fs.existsSync(file)) return E.right({ dropped: 0, tornBytes: 0 });
  return E.flatMap(readText(file), (text) => {
    const kept: string[] = [];
    let dropped = 0;
    for (const [i, line] of completeLines(text).entries()) {
      const rec = parseLine(file, line, i + 1);
      if (E.isLeft(rec)) return rec;
      const s = rec.right.step;
      if (!(typeof s === "number" && s > step)) kept.push(line + "\n");
      else dropped++;
    }
    const tornBytes = Buffer.byteLength(text.slice(text.lastIndexOf("\n") + 1), "utf8");
    if (dropped === 0 && tornBytes === 0) return E.right({ dropped, tornBytes });
    return E.map(() => ({ dropped, tornBytes }))(
      writeFileAtomic(file, new TextEncoder().encode(kept.join("")), "DataError"),
    );
  });
};

export class MetricsLog {
  private constructor(
    private fd: number | undefined,
    readonly path: string,
    /** Bytes of whole records in the file: where a failed write is cut back to. */
    private size: number,
  ) {}

  /**
   * Open for writing; `append: false` starts a fresh file. When appending,
   * a torn last line from a crash is cut off first, so the next record
   * starts on a clean line instead of being glued to garbage.
   */
  static open(file: string, opts: { append: boolean }): E.Either<TrainError, MetricsLog> {
    try {
      if (opts.append && fs.existsSync(file)) {
        // In bytes, not decoded text: the torn tail may end inside a multi-byte character.
        const bytes = fs.readFileSync(file);
        if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) fs.truncateSync(file, bytes.lastIndexOf(0x0a) + 1);
      }
      const fd = fs.openSync(file, opts.append ? "a" : "w");
      return E.right(new MetricsLog(fd, file, fs.fstatSync(fd).size));
    } catch (cause) {
      return fail(`cannot open metrics log ${file}: ${causeMessage(cause)}`);
    }
  }

  /**
   * Append one record as a single write of one line. Non-finite numbers become null (JSON has no NaN).
   * A failed or short write (a full disk) cuts the file back to its last whole record and closes the log.
   */
  write(record: object): E.Either<TrainError, void> {
    if (this.fd === undefined) return fail(`metrics log ${this.path} is closed`);
    const bytes = Buffer.from(JSON.stringify(record) + "\n", "utf8");
    try {
      writeWhole(this.fd, bytes);
      this.size += bytes.length;
      return E.right(undefined);
    } catch (cause) {
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch {
        /* the reader drops a torn last line, and a resume cuts it off */
      }
      this.close();
      return fail(`cannot write metrics log ${this.path}: ${causeMessage(cause)}`);
    }
  }

  /** fsync: the records so far survive a power cut (before a checkpoint that counts on them). */
  sync(): E.Either<TrainError, void> {
    if (this.fd === undefined) return fail(`metrics log ${this.path} is closed`);
    try {
      fs.fsyncSync(this.fd);
      return E.right(undefined);
    } catch (cause) {
      return fail(`cannot write metrics log ${this.path}: ${causeMessage(cause)}`);
    }
  }

  close(): void {
    if (this.fd !== undefined)
      try {
        fs.closeSync(this.fd);
      } catch {
        /* nothing left to lose: every record was written whole or cut back */
      }
    this.fd = undefined;
  }
}
