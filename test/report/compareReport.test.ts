/**
 * `rankfuse compare` end to end at a tiny size (reference backend, a few steps), then what a reader of its
 * report folder sees: report.md and report.html with the run's provenance, two tables of at most seven
 * columns, figures whose x axis ends at the last token trained, validation markers, throughput bars with
 * their spread; and, in headless Chromium (skipped with the reason printed where it is missing, a failure
 * under RANKFUSE_REQUIRE_BROWSER=1), report.html at 1280×720 and at 500 px wide with nothing overflowing,
 * saved to test-artifacts/report-1280x720.png and test-artifacts/report-500px.png.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { chromiumRequirement } from "../helpers/requirements.ts";
import { expectWellFormed } from "./svgChecks.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-report-"));
const out = path.join(tmp, "report");
const STEPS = 6,
  EVAL_EVERY = 2,
  TOKENS_PER_STEP = 2 * 16;
const ARGS = [
  "compare",
  "--methods",
  "full,cola",
  ...["--width", "32", "--heads", "2", "--layers", "1", "--ff", "48", "--rank", "8"],
  ...["--backend", "reference", "--batch", "2", "--seq", "16", "--eval-batches", "1"],
  ...["--steps", String(STEPS), "--eval-every", String(EVAL_EVERY), "--out", out],
];
const browser = await chromiumRequirement();
let stdout = "";

beforeAll(() => {
  const text = path.join(tmp, "text.txt");
  fs.writeFileSync(
    text,
    Array.from({ length: 400 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog.\n`).join(""),
  );
  const r = spawnSync(process.execPath, [path.join(ROOT, "cli", "bin.js"), ...ARGS, "--data", text], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, RANKFUSE_BACKEND: "" },
  });
  expect(r.status, r.stderr).toBe(0);
  stdout = r.stdout;
}, 300_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const read = (name: string) => fs.readFileSync(path.join(out, name), "utf8");
/** The header cells of every markdown table in `md`. */
const tableHeaders = (md: string) =>
  md
    .split("\n")
    .filter((l, i, all) => l.startsWith("| ") && all[i + 1]?.startsWith("| -"))
    .map((l) =>
      l
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
/** The plot frame's right edge, and the largest x any polyline or marker reaches. */
const rightEdges = (svg: string) => {
  const frame = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="none"/g)].at(
    -1,
  )!;
  const xs = [
    ...[...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)].flatMap((m) =>
      m[1].split(" ").map((p) => Number(p.split(",")[0])),
    ),
    ...[...svg.matchAll(/<circle class="marker" cx="([\d.]+)"/g)].map((m) => Number(m[1])),
  ];
  return { frame: Number(frame[1]) + Number(frame[2]), data: Math.max(...xs) };
};

describe("rankfuse compare's report", () => {
  it("prints a quality and a cost table, each at most seven columns, in the console and in report.md", () => {
    for (const text of [stdout, read("report.md")]) {
      const tables = tableHeaders(text);
      expect(tables.map((t) => t[0])).toEqual(["method", "method"]);
      expect(tables[0]).toEqual(expect.arrayContaining(["val loss", "val ppl", "bits/byte"]));
      expect(tables[1]).toEqual(expect.arrayContaining(["tokens/s", "peak memory", "optimizer state"]));
      for (const t of tables) expect(t.length).toBeLessThanOrEqual(7);
    }
  });

  it("records when, how and where it ran, in report.md and results.json", () => {
    const md = read("report.md");
    const { metadata, rows } = JSON.parse(read("results.json"));
    expect(Date.now() - Date.parse(metadata.date)).toBeLessThan(600_000);
    expect(metadata.command).toBe(`rankfuse ${ARGS.join(" ")} --data ${path.join(tmp, "text.txt")}`);
    expect(metadata.rankfuse.version).toBe(
      JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version,
    );
    expect(metadata.rankfuse.commit).toMatch(/^[0-9a-f]{40}( \+ local changes)?$|^unknown \(not a git checkout\)$/);
    if (fs.existsSync(path.join(ROOT, ".git"))) expect(metadata.rankfuse.commit).toMatch(/^[0-9a-f]{40}/);
    expect(metadata.cpu.count).toBe(os.cpus().length);
    expect(metadata.node).toBe(process.version);
    expect(metadata.backend.name).toBe("reference");
    for (const v of Object.values(metadata.packages)) expect(v).toMatch(/^\d+\.\d+\.\d+/);
    for (const label of ["date", "command", "rankfuse", "backend", "threads", "CPU", "OS", "Node", "packages"])
      expect(md).toMatch(new RegExp(`^- ${label}: \\S`, "m"));
    expect(md).toContain(metadata.date);
    expect(rows.map((r: { method: string }) => r.method)).toEqual(["full", "cola"]);
  });

  it("ends the loss plots' x axis at the last token trained and marks every validation point", () => {
    const lastToken = STEPS * TOKENS_PER_STEP;
    for (const name of ["loss.svg", "val.svg"]) {
      const svg = read(name);
      expectWellFormed(svg);
      const e = rightEdges(svg);
      expect(e.data).toBeCloseTo(e.frame, 1);
      const ticks = [...svg.matchAll(/<text x="[\d.]+" y="[\d.]+" text-anchor="middle">(\d+)<\/text>/g)].map((m) =>
        Number(m[1]),
      );
      expect(ticks.length).toBeGreaterThan(1);
      expect(Math.max(...ticks)).toBeLessThanOrEqual(lastToken);
    }
    const { rows } = JSON.parse(read("results.json"));
    const markers = read("val.svg").match(/<circle class="marker"/g) ?? [];
    const evals = rows.reduce((s: number, r: { result: { evals: unknown[] } }) => s + r.result.evals.length, 0);
    expect(evals).toBe(2 * (STEPS / EVAL_EVERY));
    expect(markers.length).toBe(evals);
    expect(read("val.svg").match(/<circle class="legend-marker"/g)).toHaveLength(rows.length);
  });

  it("draws throughput with axis labels, each value, and the slowest to fastest step as whiskers", () => {
    const svg = read("throughput.svg");
    expectWellFormed(svg);
    const { rows } = JSON.parse(read("results.json"));
    for (const r of rows) {
      const s = r.result.stepTokensPerSec;
      expect(s.steps).toBe(STEPS - 1);
      expect(s.min).toBeLessThanOrEqual(r.result.tokensPerSec);
      expect(s.max).toBeGreaterThanOrEqual(r.result.tokensPerSec);
    }
    expect(svg.match(/class="error"/g)).toHaveLength(2);
    expect(svg.match(/class="value"/g)).toHaveLength(2);
    expect(svg).toContain(">tokens/s<");
    expect(svg).toMatch(/>method \(bar: mean/);
  });

  it("writes report.html: self-contained, the tables as HTML, the figures inline", () => {
    const html = read("report.html");
    expect(html).not.toMatch(/<script|<link|src="http/);
    expect(html.match(/<table>/g)).toHaveLength(2);
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).toContain(JSON.parse(read("results.json")).metadata.date);
  });
});

describe.skipIf(browser.skip)(browser.title("report.html in headless Chromium"), () => {
  let ctx: BrowserContext;
  beforeAll(async () => {
    const userDir = fs.mkdtempSync(path.join(tmp, "chromium-"));
    ctx = await chromium.launchPersistentContext(userDir, {
      executablePath: browser.get(),
      headless: true,
      args: ["--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking"],
    });
  }, 60_000);
  afterAll(async () => ctx?.close());

  it.each([
    { width: 1280, height: 720, file: "report-1280x720.png", fullPage: false },
    { width: 500, height: 900, file: "report-500px.png", fullPage: true },
  ])(
    "reads at $width px wide: nothing overflows, every table and figure shows ($file)",
    async (v) => {
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
      await page.setViewportSize({ width: v.width, height: v.height });
      await page.goto(`file://${path.join(out, "report.html")}`);
      const layout = await page.evaluate(() => {
        const box = (e: Element) => {
          const r = e.getBoundingClientRect();
          return { left: r.left, right: r.right, width: r.width, height: r.height };
        };
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          tables: Array.from(document.querySelectorAll("table")).map((t) => ({
            ...box(t),
            scroll: t.scrollWidth,
            client: t.clientWidth,
          })),
          svgs: Array.from(document.querySelectorAll("svg")).map(box),
          facts: Array.from(document.querySelectorAll("dt")).map((d) => d.textContent),
          commit: Array.from(document.querySelectorAll("dd"))
            .map((d) => d.textContent ?? "")
            .find((t) => /commit/.test(t)),
        };
      });
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
      expect(layout.tables).toHaveLength(2);
      expect(layout.svgs).toHaveLength(3);
      for (const b of [...layout.tables, ...layout.svgs]) {
        expect(b.width).toBeGreaterThan(100);
        expect(b.height).toBeGreaterThan(40);
        expect(b.left).toBeGreaterThanOrEqual(0);
        expect(b.right).toBeLessThanOrEqual(layout.innerWidth);
      }
      for (const t of layout.tables) expect(t.scroll).toBeLessThanOrEqual(t.client);
      expect(layout.facts).toEqual(expect.arrayContaining(["date", "command", "rankfuse", "CPU", "Node", "threads"]));
      expect(layout.commit).toMatch(/commit /);
      expect(problems).toEqual([]);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, v.file), fullPage: v.fullPage });
      await page.close();
    },
    60_000,
  );
});
