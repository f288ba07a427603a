/**
 * End to end: build the playground, serve it, and train CoLA in headless Chromium (the Debian package,
 * or RANKFUSE_CHROMIUM; never a downloaded browser). Checks the backend it used (auto passes over
 * SwiftShader for wasm and says so; WebGPU asked for by name runs on it), the bytes a step moves, that the loss falls,
 * that the plan panel lists the plan's kernels (a fused one where the backend fuses), that user errors
 * show in the page, the progress line, Stop and Train after Stop (which asks first), the layout at
 * 1280×720 and at 500 px, and that axe-core finds no critical or serious violation. Saves screenshots
 * to test-artifacts/ (playground.png, playground-1280x720.png, playground-500px.png). Skipped with the reason
 * printed where Chromium is missing, unless RANKFUSE_REQUIRE_BROWSER is set (CI), which makes that a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type http from "node:http";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { buildPlayground } from "../../web/build.ts";
import { serveStatic } from "../../web/serve.ts";
import { decodeSafetensors } from "../../train/safetensors.ts";
import { METHOD_LIST, makeModel } from "../../methods/index.ts";
import { chromiumRequirement } from "../helpers/requirements.ts";
import { seriousViolations } from "../helpers/axe.ts";
import { adapterName, isSoftwareAdapter } from "../../backends/webgpu/adapter.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const browser = await chromiumRequirement();

let server: http.Server;
let url: string;
/** The built-in training text the page serves. */
let sampleText: string;
const contexts: BrowserContext[] = [];

async function openPage(
  webgpu: boolean,
  viewport = { width: 1200, height: 900 },
): Promise<{ page: Page; problems: string[] }> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-chromium-"));
  const ctx = await chromium.launchPersistentContext(userDir, {
    executablePath: browser.get(),
    headless: true,
    args: webgpu ? [...FLAGS, "--enable-unsafe-webgpu"] : FLAGS,
    viewport,
  });
  contexts.push(ctx);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => void (m.type() === "error" && problems.push(`console: ${m.text()}`)));
  page.on("response", (r) => void (r.status() >= 400 && problems.push(`HTTP ${r.status()} for ${r.url()}`)));
  return { page, problems };
}

/** What navigator.gpu's adapter is in this browser (the page's own detection, on an empty page). */
async function pageAdapter(page: Page): Promise<{ name: string; software: boolean }> {
  await page.goto(url); // WebGPU needs a secure context, which localhost is; nothing trains until Train is clicked
  const info = await page.evaluate(async () => {
    const a = await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter({
      powerPreference: "high-performance",
    });
    if (!a) return null;
    const { vendor, architecture, device, description } = a.info;
    return {
      vendor,
      architecture,
      device,
      description,
      isFallbackAdapter: (a.info as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    };
  });
  if (!info) throw new Error("headless Chromium with --enable-unsafe-webgpu has no WebGPU adapter");
  return { name: adapterName(info), software: isSoftwareAdapter(info) };
}

/** The chart's points; it redraws on the next animation frame, so a point posted just now lands first. */
const series = async (page: Page, which: "train" | "val") => {
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  return JSON.parse((await page.locator("#loss-chart").getAttribute(`data-${which}`))!) as [number, number][];
};
const state = (page: Page) => page.evaluate(() => document.body.dataset.state);
const untilState = (page: Page, states: string[], timeout: number) =>
  page.waitForFunction((s) => s.includes(document.body.dataset.state ?? ""), states, { timeout });

describe.skipIf(browser.skip)(browser.title("the playground in headless Chromium"), () => {
  beforeAll(async () => {
    browser.get(); // where RANKFUSE_REQUIRE_BROWSER demands a missing Chromium, every test fails here with the reason
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-web-"));
    const built = await buildPlayground(out);
    if (E.isLeft(built)) throw new Error(built.left);
    ({ server, url } = await serveStatic(out, 0));
    sampleText = fs.readFileSync(path.join(out, "sample.txt"), "utf8");
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    server?.close();
  });

  it(
    "trains CoLA on WebGPU asked for by name: the loss falls, the plan panel lists its kernels and their WGSL, a sample appears",
    { timeout: 150_000 },
    async () => {
      const { page, problems } = await openPage(true);
      const adapter = await pageAdapter(page);
      await page.goto(
        `${url}?method=cola&preset=micro&backend=webgpu&steps=6&lr=0.02&evalEvery=0&sampleEvery=6&sampleBytes=8`,
      );
      await page.click("#train");
      // SwiftShader compiles every WebGPU pipeline on the CPU: the first step is slow, more so on a busy machine
      await untilState(page, ["done", "error"], 140_000);
      expect(await page.locator("#error").textContent()).toBe("");
      expect(await state(page)).toBe("done");

      // asked for by name, WebGPU is used even on a software adapter (SwiftShader here), with a note that says so
      expect(await page.locator("#stat-backend").getAttribute("data-backend")).toBe("webgpu");
      expect(await page.locator("#stat-backend").textContent()).toContain(
        adapter.software ? "software adapter" : "hardware adapter",
      );
      if (adapter.software)
        expect(await page.locator("#notice").textContent()).toMatch(/^WebGPU runs on a software adapter \(.+\)/);
      else expect(await page.locator("#notice").isHidden()).toBe(true);

      const train = await series(page, "train"),
        val = await series(page, "val");
      expect(train.map((p) => p[0])).toEqual([1, 2, 3, 4, 5, 6]);
      // byte-level: ln 256 = 5.55 at init; six steps learn at least the byte frequencies
      expect(train[0]![1]).toBeGreaterThan(5);
      expect(train[5]![1]).toBeLessThan(train[0]![1] - 1);
      // validation runs at the end only here (each evaluation costs seconds on SwiftShader); the wasm run below checks the curve
      expect(val.map((p) => p[0])).toEqual([6]);
      expect(val[0]![1]).toBeLessThan(Math.log(256) - 1);

      const kernels = await page.locator("#kernel-select [role=option]").allTextContents();
      const header = (await page.locator("#plan-header").textContent())!;
      expect(header).toMatch(new RegExp(`^${kernels.length} kernels, \\d+ fused`));
      expect(await page.locator("#plan-text").textContent()).toMatch(new RegExp(`^plan: ${kernels.length} kernels`));
      expect(await page.locator("#plan-saved").textContent()).toMatch(/^\d+ values, /);
      // the planner fuses the low-rank chains for a backend that runs fused kernels
      const fusedKinds = (await page.locator("#stat-backend").getAttribute("data-fused-kinds"))!;
      const fused = await page.locator("#kernel-select .fused").count();
      if (fusedKinds !== "") expect(fused).toBeGreaterThan(0);
      expect(header).toContain(`, ${fused} fused`);
      // params show by name, and the legend explains each fused kind the list uses
      expect(kernels.some((k) => /\bblocks\.0\.\w+\.A\b/.test(k))).toBe(true);
      const legend = await page.locator("#plan-legend dt").allTextContents();
      const kindsUsed = new Set(kernels.flatMap((k) => [...k.matchAll(/ = (fused\.\w+)\(/g)].map((m) => m[1]!)));
      expect(new Set(legend)).toEqual(kindsUsed);

      // the WGSL panel: rankfuse's own shader for a fused kernel, tfjs's program for a plain matmul
      const showShader = async (k: number) => {
        await page.click(`#kernel-${k}`);
        await page.waitForFunction((i) => document.getElementById("shader-kernel")?.textContent === `kernel ${i}`, k);
        expect(await page.locator(`#kernel-${k}`).getAttribute("aria-selected")).toBe("true");
        expect(await page.locator('#kernel-select [aria-selected="true"]').count()).toBe(1);
        return (await page.locator("#shader").textContent())!;
      };
      const matmul = kernels.findIndex((k) => / = matmul\(/.test(k));
      expect(matmul).toBeGreaterThanOrEqual(0);
      expect(await showShader(matmul)).toMatch(/^\/\/ kernel \d+ \(matmul\) runs \d+ WebGPU programs?[^]*fn main/);
      const firstFused = kernels.findIndex((k) => / = fused\.\w+\(/.test(k));
      if (fused > 0)
        expect(await showShader(firstFused)).toMatch(
          /^\/\/ kernel \d+ \(fused\.\w+\) runs \d+ rankfuse WGSL programs?\n\/\/ rankfuse fused kernel [^]*@compute/,
        );

      expect((await page.locator("#samples li pre").first().textContent())!.length).toBeGreaterThan(24);
      expect(await page.locator("#progress").textContent()).toMatch(/^step 6\/6 · \d+(m\d\ds)?s? elapsed · done$/);
      expect(await page.locator("#stat-memory").textContent()).toMatch(/B \/ .*B$/);

      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, "playground.png"), fullPage: true });
      expect(problems).toEqual([]);
    },
  );

  it(
    "auto passes over a software WebGPU adapter, says so and trains on wasm; the stats show the bytes each step moves",
    { timeout: 90_000 },
    async () => {
      const { page, problems } = await openPage(true);
      const adapter = await pageAdapter(page);
      await page.goto(`${url}?method=cola&preset=micro&backend=auto&steps=3&evalEvery=0&sampleEvery=0&sampleBytes=8`);
      await page.click("#train");
      await untilState(page, ["done", "error"], 80_000);
      expect(await page.locator("#error").textContent()).toBe("");
      expect(await state(page)).toBe("done");
      const backend = await page.locator("#stat-backend").getAttribute("data-backend");
      if (adapter.software) {
        // headless Chromium's adapter is SwiftShader: auto takes wasm and names the adapter it passed over
        expect(backend).toBe("wasm");
        const note = (await page.locator("#notice").textContent())!;
        expect(note).toMatch(
          /^auto passed over WebGPU because its adapter is a software one \(.+\).*: training on wasm/,
        );
        expect(note.toLowerCase()).toContain(adapter.name.split(", ")[0]!.toLowerCase());
      } else expect(backend).toBe("webgpu"); // a machine with a GPU: auto takes it

      // only the batch crosses: its ids and targets (8 x 64 int32 each) and three scalars in, loss and grad norm out
      const bytes = page.locator("#stat-bytes");
      const bytesIn = Number(await bytes.getAttribute("data-bytes-in")),
        bytesOut = Number(await bytes.getAttribute("data-bytes-out"));
      expect(bytesIn).toBeGreaterThanOrEqual(2 * 8 * 64 * 4);
      expect(bytesIn).toBeLessThan(2 * 8 * 64 * 4 + 64);
      expect(bytesOut).toBeGreaterThan(0);
      expect(bytesOut).toBeLessThan(64);
      expect(await bytes.textContent()).toMatch(
        /^[\d.]+KB in, \d+B out \(a batch's ids and targets: 4\.10KB; the params: [\d.]+[KM]B\)$/,
      );
      expect(problems).toEqual([]);
    },
  );

  it("shows user errors in the page: a rank above the width, a binary file, a file that is not UTF-8", async () => {
    const { page } = await openPage(false);
    await page.goto(`${url}?preset=micro&rank=100`);
    await page.click("#train");
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/rank 100 is larger than the width d = 64/);
    expect(await state(page)).toBe("idle");

    await page.setInputFiles("#file", {
      name: "weights.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.from([1, 2, 0, 3]),
    });
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/weights\.bin looks binary/);
    await page.setInputFiles("#file", {
      name: "latin1.txt",
      mimeType: "text/plain",
      buffer: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20]),
    });
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/latin1\.txt is not UTF-8 text/);
    expect(await page.locator("#text-name").textContent()).toBe("built-in sample");
  });

  it("without WebGPU says so and trains on wasm; Stop, Resume and Download work", { timeout: 90_000 }, async () => {
    const { page, problems } = await openPage(false);
    await page.goto(`${url}?method=cola&preset=micro&backend=webgpu&steps=24&evalEvery=12&sampleEvery=0&sampleBytes=8`);
    await page.click("#train");
    await expect
      .poll(() => page.locator("#notice").textContent(), { timeout: 30_000 })
      .toMatch(/WebGPU was asked for, but .*: training on wasm instead/);
    expect(await page.locator("#stat-backend").getAttribute("data-backend")).toBe("wasm");

    await page.waitForFunction(
      () => JSON.parse(document.getElementById("loss-chart")!.dataset.train!).length >= 2,
      undefined,
      { timeout: 60_000 },
    );
    // a run reads its settings at Train: while it trains they are disabled, not silently ignored
    for (const id of ["#steps", "#method", "#lr", "#sample-bytes", "#file"])
      expect(await page.locator(id).isDisabled(), id).toBe(true);
    expect(await page.locator("#progress").textContent()).toMatch(/^step \d+\/24 · [\dhms]+ elapsed · ~[\dhms]+ left$/);
    await page.click("#stop");
    await untilState(page, ["stopped"], 30_000);
    for (const id of ["#steps", "#method", "#lr", "#sample-bytes", "#file"])
      expect(await page.locator(id).isDisabled(), id).toBe(false);
    const stoppedAt = (await series(page, "train")).length;
    expect(stoppedAt).toBeLessThan(24);
    await page.waitForTimeout(500);
    expect((await series(page, "train")).length).toBe(stoppedAt);

    // Train after Stop asks first; cancelled, the stopped run stays as it was
    const stats = await page.locator("#stats").textContent();
    const asked: string[] = [];
    page.once("dialog", (d) => void (asked.push(d.message()), d.dismiss()));
    await page.click("#train");
    await expect.poll(() => asked.length).toBe(1);
    expect(asked[0]).toMatch(/^Start a new run\? The stopped one \(step \d+\/24 · .*\) is discarded/);
    expect(await state(page)).toBe("stopped");
    expect(await page.locator("#stats").textContent()).toBe(stats);
    expect((await series(page, "train")).length).toBe(stoppedAt);

    await page.click("#resume");
    await untilState(page, ["done", "error"], 60_000);
    expect(await state(page)).toBe("done");
    expect((await series(page, "train")).map((p) => p[0])).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    const val = await series(page, "val");
    expect(val.map((p) => p[0])).toEqual([12, 24]);
    expect(val[1]![1]).toBeLessThan(val[0]![1]);

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    expect(download.suggestedFilename()).toBe("rankfuse-cola-micro-step24.safetensors");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-dl-")), "w.safetensors");
    await download.saveAs(file);
    const st = decodeSafetensors(new Uint8Array(fs.readFileSync(file)));
    if (E.isLeft(st)) throw new Error(st.left.message);
    const model = makeModel("cola", JSON.parse(st.right.metadata.config!));
    if (E.isLeft(model)) throw new Error(model.left.message);
    expect(Object.keys(st.right.tensors).sort()).toEqual([...model.right.layout.names].sort());
    expect(st.right.metadata).toMatchObject({ method: "cola", step: "24" });
    expect(st.right.tensors["blocks.0.q.A"]!.shape).toEqual([64, 16]);
    expect(problems).toEqual([]);
  });
  it(
    "explains itself and fits the screen: method summaries, a 1280×720 screen with the chart above the fold, 500 px with nothing cut off, no serious axe-core violations; Train after Stop, accepted, starts anew",
    { timeout: 120_000 },
    async () => {
      const { page, problems } = await openPage(false, { width: 1280, height: 720 });
      await page.goto(
        `${url}?method=cola&preset=micro&backend=wasm&steps=400&evalEvery=4&sampleEvery=3&sampleBytes=24`,
      );
      const summary = (name: string) => METHOD_LIST.find((m) => m.name === name)!.summary;
      expect(await page.locator("#method-summary").textContent()).toBe(summary("cola"));
      await page.selectOption("#method", "full");
      expect(await page.locator("#method-summary").textContent()).toBe(summary("full"));
      await page.selectOption("#method", "cola");
      expect(await page.locator("#estimate").textContent()).toMatch(/^400 steps/);

      await page.click("#train");
      await page.waitForFunction(() => document.querySelectorAll("#samples li").length >= 3, undefined, {
        timeout: 60_000,
      });
      await page.click("#stop");
      await untilState(page, ["stopped"], 30_000);
      await page.click("#kernel-2");
      // the kernel list is a listbox the keyboard moves through too
      await page.keyboard.press("ArrowDown");
      expect(await page.locator('#kernel-select [aria-selected="true"]').getAttribute("id")).toBe("kernel-3");
      expect(await page.locator("#kernel-select").getAttribute("aria-activedescendant")).toBe("kernel-3");
      await page.keyboard.press("ArrowUp");
      // the time per step is remembered: the next run of these settings is estimated before it starts
      expect(await page.locator("#estimate").textContent()).toMatch(/^400 steps: ~[\dhms]+ at the [\d.]+s a step/);

      // samples: newest first, each prompt starting at a word of the text, not inside one
      const steps = await page.locator("#samples li").evaluateAll((els) => els.map((e) => Number(e.dataset.step)));
      expect(steps.length).toBeGreaterThanOrEqual(3);
      expect(steps).toEqual([...steps].sort((a, b) => b - a));
      const prompt = (await page.locator("#samples li b").first().textContent())!;
      expect(prompt).toMatch(/^\S/);
      expect(new RegExp(`\\s${prompt.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`).test(sampleText)).toBe(true);

      // 1280×720: the whole chart above the fold, its text at its drawn size
      const chart = page.locator("#loss-chart svg");
      // where it sits in the page (clicking the kernel above scrolled to it; the screenshot shows the top)
      await page.evaluate(() => scrollTo(0, 0));
      const wide = await chart.evaluate((svg) => {
        const r = svg.getBoundingClientRect();
        return { top: r.top + scrollY, bottom: r.bottom + scrollY };
      });
      expect(wide.top).toBeLessThan(720);
      expect(wide.bottom).toBeLessThanOrEqual(720);
      const textScale = () =>
        chart.evaluate((svg) => svg.getBoundingClientRect().width / (svg as SVGSVGElement).viewBox.baseVal.width);
      expect(await textScale()).toBeGreaterThan(0.9);
      expect(await chart.getAttribute("role")).toBe("img");
      expect(await page.locator("#loss-chart svg > title").textContent()).toMatch(
        /^Loss \(nats per byte\) by step: training loss/,
      );
      expect(await seriousViolations(page)).toEqual([]);
      // and the check can fail: an input without a name is a critical violation
      await page.evaluate(() =>
        document.body.append(Object.assign(document.createElement("input"), { id: "unnamed" })),
      );
      expect((await seriousViolations(page, true)).map((v) => v.id)).toContain("label");
      await page.evaluate(() => document.getElementById("unnamed")!.remove());
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, "playground-1280x720.png") });

      // 500 px: one column, no horizontal scrolling, the chart and the kernel rows inside the viewport
      await page.setViewportSize({ width: 500, height: 900 });
      await page.waitForFunction(() => {
        const svg = document.querySelector<SVGSVGElement>("#loss-chart svg");
        return !!svg && svg.viewBox.baseVal.width <= innerWidth;
      });
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
      const narrow = (await chart.boundingBox())!;
      expect(narrow.x).toBeGreaterThanOrEqual(0);
      expect(narrow.x + narrow.width).toBeLessThanOrEqual(500);
      expect(await textScale()).toBeGreaterThan(0.9);
      const cut = await page
        .locator("#kernel-select li, #run-fields label, .buttons button")
        .evaluateAll((els) =>
          els
            .filter((e) => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > innerWidth)
            .map((e) => e.textContent),
        );
      expect(cut).toEqual([]);
      expect(await seriousViolations(page)).toEqual([]);
      await page.screenshot({ path: path.join(ARTIFACTS, "playground-500px.png"), fullPage: true });

      // a changed setting while stopped is for the next Train, and says so
      await page.fill("#steps", "6");
      await page.fill("#sample-every", "0");
      await page.fill("#eval-every", "0");
      expect(await page.locator("#form-note").textContent()).toMatch(/apply to the next Train/);
      page.once("dialog", (d) => void d.accept());
      await page.click("#train");
      await untilState(page, ["done", "error"], 60_000);
      expect(await page.locator("#error").textContent()).toBe("");
      // the old run's curves, samples and stats are gone: only the new 6-step run's are shown
      expect((await series(page, "train")).map((p) => p[0])).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await series(page, "val")).map((p) => p[0])).toEqual([6]);
      expect(await page.locator("#samples li").evaluateAll((els) => els.map((e) => e.dataset.step))).toEqual(["6"]);
      expect(await page.locator("#stat-val").textContent()).toMatch(/ at step 6$/);
      expect(problems).toEqual([]);
    },
  );
});
