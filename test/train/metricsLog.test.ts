import { describe, it, expect } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { MetricsLog, readMetrics, truncateAfterStep } from "../../train/metricsLog.ts";
import { tempDir } from "./tempDir.ts";

const open = (file: string, append: boolean): MetricsLog => {
  const r = MetricsLog.open(file, { append });
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};

const read = (file: string) => {
  const r = readMetrics(file);
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};

describe("MetricsLog", () => {
  it("writes one JSON object per line, visible on disk immediately", () => {
    const file = path.join(tempDir(), "metrics.jsonl");
    const log = open(file, false);
    log.write({ step: 1, loss: 5.5 });
    expect(fs.readFileSync(file, "utf8")).toBe('{"step":1,"loss":5.5}\n'); // before close: nothing buffered
    log.write({ step: 2, loss: NaN, note: "a\nb" });
    log.close();
    expect(read(file)).toEqual([
      { step: 1, loss: 5.5 },
      { step: 2, loss: null, note: "a\nb" },
    ]);
    expect(E.isLeft(log.write({ step: 3 }))).toBe(true);
  });

  it("append keeps records, and a fresh open starts over", () => {
    const file = path.join(tempDir(), "m.jsonl");
    open(file, false).write({ step: 1 });
    const log = open(file, true);
    log.write({ step: 2 });
    log.close();
    expect(read(file).map((r) => r.step)).toEqual([1, 2]);
    open(file, false).close();
    expect(read(file)).toEqual([]);
  });

  it("reading tolerates a torn last line; appending cuts it off first", () => {
    const file = path.join(tempDir(), "m.jsonl");
    fs.writeFileSync(file, '{"step":1}\n{"step":2,"lo');
    expect(read(file)).toEqual([{ step: 1 }]);
    const log = open(file, true);
    log.write({ step: 2 });
    log.close();
    expect(fs.readFileSync(file, "utf8")).toBe('{"step":1}\n{"step":2}\n');
  });

  it("refuses a damaged line in the middle, with its line number", () => {
    const file = path.join(tempDir(), "m.jsonl");
    fs.writeFileSync(file, '{"step":1}\nnope\n{"step":3}\n');
    const r = readMetrics(file);
    expect(E.isLeft(r) && r.left.message).toBe(`metrics log ${file} line 2 is not a JSON object`);
  });

  it("truncateAfterStep drops later steps (and a torn tail) but keeps step-less records", () => {
    const file = path.join(tempDir(), "m.jsonl");
    fs.writeFileSync(file, '{"run":"x"}\n{"step":1}\n{"step":2}\n{"step":3,"eval":1}\n{"step":4}\n{"step":5,"l');
    expect(E.isRight(truncateAfterStep(file, 2))).toBe(true);
    expect(read(file)).toEqual([{ run: "x" }, { step: 1 }, { step: 2 }]);
    expect(E.isRight(truncateAfterStep(path.join(tempDir(), "missing.jsonl"), 0))).toBe(true);
  });

  it("reports an unopenable path as a value", () => {
    expect(E.isLeft(MetricsLog.open(path.join(tempDir(), "no", "dir", "m.jsonl"), { append: true }))).toBe(true);
  });
});
