import { beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { cliTextFixture } from "../helpers/cliText.ts";
import { expectWellFormed } from "../report/svgChecks.ts";

/**
 * `compare` with a learning-rate grid and seeds, end to end on a tiny model and a few steps: the run
 * folders, the printed tables, report.md's grid, lr.svg, results.json, --resume over finished runs, the
 * short grid of --sweep-tokens, and bad --lr lists refused in one line.
 */
const { tmp, text, rankfuse } = cliTextFixture("rankfuse-sweep-");
const TINY = [
  ...["--width", "32", "--heads", "2", "--layers", "1", "--ff", "48", "--rank", "8"],
  ...["--data", text, "--backend", "reference", "--batch", "2", "--seq", "16", "--eval-batches", "1"],
];

/** The cells of the first markdown table at or after `caption` in `text`, row by row (header first). */
function tableAfter(text: string, caption: RegExp): string[][] {
  expect(text).toMatch(caption);
  const lines = text.slice(text.search(caption)).split("\n");
  const from = lines.findIndex((l) => l.startsWith("|"));
  const rows = lines.slice(
    from,
    lines.findIndex((l, i) => i > from && !l.startsWith("|")),
  );
  return rows
    .filter((_, i) => i !== 1)
    .map((l) =>
      l
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

describe("compare --lr 1e-3,1e-2 --seeds 2 (2 methods x 2 rates x 2 seeds)", () => {
  const out = path.join(tmp, "grid");
  const args = ["compare", "--methods", "full,cola", ...TINY, "--steps", "3", "--lr", "1e-3,1e-2", "--seeds", "2"];
  let first: ReturnType<typeof rankfuse>;
  beforeAll(() => void (first = rankfuse(...args, "--out", out)));

  it("trains each run in DIR/<method>/lr-<rate>/seed-<seed>", () => {
    expect(first.code, first.err).toBe(0);
    for (const m of ["full", "cola"]) {
      expect(fs.readdirSync(path.join(out, m)).sort()).toEqual(["lr-0.001", "lr-0.01"]);
      for (const lr of ["0.001", "0.01"]) {
        expect(fs.readdirSync(path.join(out, m, `lr-${lr}`)).sort()).toEqual(["seed-0", "seed-1"]);
        for (const seed of ["seed-0", "seed-1"])
          expect(fs.readdirSync(path.join(out, m, `lr-${lr}`, seed))).toEqual(
            expect.arrayContaining(["checkpoint.safetensors", "metrics.jsonl", "result.json"]),
          );
      }
    }
  });

  it("results.json holds the grid, the seeds and every run's result; the best rate has the lowest mean loss", () => {
    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    const sweep = results.sweep;
    expect(sweep.lrs).toEqual([1e-3, 1e-2]);
    expect(sweep.seeds).toEqual([0, 1]);
    expect(sweep.grid).toHaveLength(4);
    for (const cell of sweep.grid) {
      expect(cell.runs.map((r: { seed: number }) => r.seed)).toEqual([0, 1]);
      const losses = cell.runs.map((r: { result: { final: { loss: number } } }) => r.result.final.loss);
      expect(cell.loss.mean).toBeCloseTo((losses[0] + losses[1]) / 2, 12);
      expect(cell.loss.std).toBeCloseTo(Math.abs(losses[0] - losses[1]) / Math.SQRT2, 12);
      expect(cell.runs[0].dir).toBe(path.join(cell.method, `lr-${cell.lr}`, "seed-0"));
    }
    for (const m of ["full", "cola"]) {
      const mine = sweep.grid.filter((c: { method: string }) => c.method === m);
      const best = mine.reduce((a: { loss: { mean: number } }, b: { loss: { mean: number } }) =>
        b.loss.mean < a.loss.mean ? b : a,
      );
      expect(sweep.best[m]).toBe(best.lr);
      expect(mine.filter((c: { best: boolean }) => c.best).map((c: { lr: number }) => c.lr)).toEqual([best.lr]);
      // the table's row is the mean over the best rate's seeds
      const row = results.rows.find((r: { method: string }) => r.method === m);
      expect(row.result.final.loss).toBeCloseTo(best.loss.mean, 12);
      expect(row.spread.n).toBe(2);
    }
    expect(results.setup).toMatchObject({ lr: [1e-3, 1e-2], seeds: [0, 1] });
  });

  it("prints the grid and each method at its best rate with its spread", () => {
    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    const grid = tableAfter(first.out, /^final validation loss by rate/m);
    expect(grid[0]).toEqual(["method", "lr 0.001", "lr 0.01", "best lr"]);
    for (const [m, a, b, best] of grid.slice(1)) {
      expect(best).toBe(String(results.sweep.best[m!]));
      const marked = [a, b].filter((c) => c!.endsWith(" (best)"));
      expect(marked).toHaveLength(1);
      expect([a, b].every((c) => /^\d+\.\d{4} ± \d+\.\d{4}( \(best\))?$/.test(c!))).toBe(true);
    }
    const best = tableAfter(first.out, /^each method at its best rate/m);
    expect(best[0]!.slice(0, 2)).toEqual(["method", "lr"]);
    expect(best.slice(1).map((r) => [r[0], r[1]])).toEqual(
      ["full", "cola"].map((m) => [m, String(results.sweep.best[m])]),
    );
    const loss = best[0]!.indexOf("val loss");
    for (const r of best.slice(1)) expect(r[loss]).toMatch(/^\d+\.\d{4} ± \d+\.\d{4}$/);
  });

  it("report.md and report.html have the grid table and lr.svg, a line with markers and a ±std band per method", () => {
    const md = fs.readFileSync(path.join(out, "report.md"), "utf8");
    expect(md).toContain("## Learning-rate sweep");
    const grid = tableAfter(md, /^## Learning-rate sweep/m);
    expect(grid.slice(1).map((r) => r[0])).toEqual(["full", "cola"]);
    expect(md).toMatch(/!\[final validation loss against peak learning rate[^\]]*\]\(lr\.svg\)/);
    const html = fs.readFileSync(path.join(out, "report.html"), "utf8");
    expect(html).toContain("<h2>Learning-rate sweep</h2>");
    expect(html).toMatch(/<th>lr 0\.001<\/th>|<th class="num">lr 0\.001<\/th>/);
    const svg = fs.readFileSync(path.join(out, "lr.svg"), "utf8");
    expectWellFormed(svg);
    expect(svg.match(/<circle/g)!.length).toBeGreaterThanOrEqual(4); // a marker per (method, rate)
    expect(svg.match(/class="band"/g)).toHaveLength(2);
    expect(svg).toMatch(/full \(best 0\.0?01\)/);
    for (const f of ["loss.svg", "val.svg"])
      expect(fs.readFileSync(path.join(out, f), "utf8")).toContain('class="band"');
  });

  it("--resume skips the finished runs and reports the same results", () => {
    const before = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    const again = rankfuse(...args, "--out", out, "--resume");
    expect(again.code, again.err).toBe(0);
    expect(again.err.match(/finished this run at step 3: nothing to do/g)).toHaveLength(8);
    const after = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    expect(after.sweep.best).toEqual(before.sweep.best);
    expect(after.rows.map((r: { result: unknown }) => r.result)).toEqual(
      before.rows.map((r: { result: unknown }) => ({ ...(r.result as object), alreadyFinished: true })),
    );
  });
});

describe("compare --sweep-tokens: a short grid, then the best rate for the full budget", () => {
  it("trains the grid in DIR/<method>/sweep/lr-<rate>/seed-<seed> and the best rate in DIR/<method>/lr-<rate>/seed-<seed>", () => {
    const out = path.join(tmp, "short");
    const r = rankfuse(
      "compare",
      "--methods",
      "full",
      ...TINY,
      "--steps",
      "4",
      "--sweep-tokens",
      "64",
      "--lr",
      "1e-3,1e-2",
      "--out",
      out,
    );
    expect(r.code, r.err).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    const best = results.sweep.best.full;
    expect(fs.readdirSync(path.join(out, "full")).sort()).toEqual([`lr-${best}`, "sweep"]);
    expect(fs.readdirSync(path.join(out, "full", "sweep")).sort()).toEqual(["lr-0.001", "lr-0.01"]);
    expect(results.sweep.grid.map((c: { runs: { result: { steps: number } }[] }) => c.runs[0]!.result.steps)).toEqual([
      2, 2,
    ]);
    expect(results.sweep.finals).toHaveLength(1);
    expect(results.sweep.finals[0]).toMatchObject({
      lr: best,
      seed: 0,
      dir: path.join("full", `lr-${best}`, "seed-0"),
    });
    expect(results.sweep.finals[0].result.steps).toBe(4);
    expect(results.rows[0].result.steps).toBe(4);
    expect(r.out).toMatch(/^each method at its best rate, trained for 128 tokens:/m);
  });
});

describe("one rate and one seed: the comparison of before", () => {
  it("trains each method in DIR/<method>, prints today's table and writes no sweep section", () => {
    const out = path.join(tmp, "plain");
    const r = rankfuse("compare", "--methods", "full", ...TINY, "--steps", "2", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(path.join(out, "full"))).toEqual(expect.arrayContaining(["checkpoint.safetensors"]));
    expect(r.out).toMatch(/^\| method +\| params/m);
    expect(r.out).not.toMatch(/best rate/);
    expect(fs.existsSync(path.join(out, "lr.svg"))).toBe(false);
    expect(fs.readFileSync(path.join(out, "report.md"), "utf8")).not.toContain("Learning-rate sweep");
    expect(JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8")).setup).toMatchObject({
      lr: 3e-3,
      seed: 0,
    });
  });
});

describe("bad --lr lists and sweep flags are one line and exit code 2", () => {
  it.each([
    [["--lr", "1e-3,,1e-2"], /--lr must be a comma-separated list of rates with no empty item, got "1e-3,,1e-2"/],
    [["--lr", "1e-3,"], /no empty item/],
    [["--lr", "1e-3,fast"], /--lr must be a number > 0, got "fast" in the list "1e-3,fast"/],
    [["--lr", "1e-3,0"], /--lr must be a number > 0, got "0" in the list/],
    [["--lr", "-1e-3,1e-2"], /--lr must be a number > 0, got "-1e-3" in the list/],
    [["--lr", "3e-3,0.003"], /--lr must list each rate once, got 0.003 twice in "3e-3,0.003"/],
    [["--lr", "0"], /--lr must be a number > 0, got "0"/],
    [["--seeds", "0"], /--seeds must be an integer >= 1/],
    [["--seeds", "1.5"], /--seeds must be an integer/],
    [["--sweep-tokens", "64"], /--sweep-tokens needs several rates in --lr/],
    [["--lr", "1e-3,1e-2", "--sweep-tokens", "0"], /--sweep-tokens must be an integer >= 1/],
    [
      ["--lr", "1e-3,1e-2", "--steps", "3", "--sweep-tokens", "1000000"],
      /--sweep-tokens 1000000 \(\d+ steps\) must be fewer than the run's 3 steps/,
    ],
  ])("compare %j", (flags, message) => {
    const r = rankfuse("compare", ...(flags as string[]));
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(message as RegExp);
  });

  it("train keeps one rate", () => {
    const r = rankfuse("train", "--lr", "1e-3,1e-2");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--lr must be a number > 0, got "1e-3,1e-2"/);
  });
});

describe("a rate that diverges in the grid", () => {
  const args = ["compare", "--methods", "full", ...TINY, "--steps", "2", "--clip", "0"];

  it("is recorded as diverged and never picked; the sweep goes on", () => {
    const out = path.join(tmp, "diverged");
    const r = rankfuse(...args, "--lr", "1e-2,1e300", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/full lr 1e\+300 seed 0 diverged; this rate is left out of the pick: DivergenceError/);
    const grid = tableAfter(r.out, /^final validation loss by rate/m);
    expect(grid[1]).toEqual(["full", expect.stringMatching(/^\d+\.\d{4} \(best\)$/), "diverged", "0.01"]);
    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"));
    expect(results.sweep.grid[1].runs[0]).toMatchObject({ lr: 1e300, diverged: expect.stringContaining("diverged") });
    expectWellFormed(fs.readFileSync(path.join(out, "lr.svg"), "utf8"));
  });

  it("at every rate fails the comparison in one line, exit code 1", () => {
    const r = rankfuse(...args, "--lr", "1e299,1e300", "--out", path.join(tmp, "all-diverged"));
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n").at(-1)).toBe(
      "rankfuse compare: full diverged or ended non-finite at every rate (1e+299, 1e+300): try lower rates in --lr",
    );
  });
});

describe("help", () => {
  it("compare documents the grid, the seeds and the short grid; train keeps one rate", () => {
    const compare = rankfuse("compare", "--help").out;
    expect(compare).toMatch(/--lr X\[,Y,\.\.\.\] +peak learning rate, or a comma-separated grid/);
    expect(compare).toMatch(/--seeds N /);
    expect(compare).toMatch(/--sweep-tokens N /);
    expect(compare).toContain("DIR/<method>/lr-<rate>/seed-<seed>");
    const train = rankfuse("train", "--help").out;
    expect(train).toMatch(/--lr X +peak learning rate \(default/);
    expect(train).not.toMatch(/--seeds|--sweep-tokens/);
  });
});
