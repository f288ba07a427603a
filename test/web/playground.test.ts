/**
 * End to end: build the playground, serve it, and train CoLA in headless Chromium (the Debian package,
 * never a downloaded browser). Checks the backend it used, that the loss falls, that the plan panel
 * lists the plan's kernels (a fused one where the backend fuses), that user errors show in the page,
 * and saves a screenshot to test-artifacts/playground.png.
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

const CHROMIUM = "/usr/bin/chromium";
const ROOT = path.resolve(import.meta.dirname, "../..");
const ARTIFACTS = path.join(ROOT, "test-artifacts");
const FLAGS = ["--headless", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/**
 * The backend the playground must pick in headless Chromium (SwiftShader WebGPU): webgpu once the
 * playground carries the webgpu backend, wasm until then.
 */
const WEBGPU_EXPECTED = false;

let server: http.Server;
let url: string;
const contexts: BrowserContext[] = [];

async function openPage(webgpu: boolean): Promise<{ page: Page; problems: string[] }> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-chromium-"));
  const ctx = await chromium.launchPersistentContext(userDir, { executablePath: CHROMIUM, headless: true, args: webgpu ? [...FLAGS, "--enable-unsafe-webgpu"] : FLAGS, viewport: { width: 1200, height: 900 } });
  contexts.push(ctx);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => void (m.type() === "error" && problems.push(`console: ${m.text()}`)));
  page.on("response", (r) => void (r.status() >= 400 && problems.push(`HTTP ${r.status()} for ${r.url()}`)));
  return { page, problems };
}

beforeAll(async () => {
  expect(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-web-"));
  const built = await buildPlayground(out);
  if (E.isLeft(built)) throw new Error(built.left);
  ({ server, url } = await serveStatic(out, 0));
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  server?.close();
});

describe("the playground in headless Chromium", () => {
  it("trains CoLA: the loss falls, the plan panel lists its kernels, samples appear", async () => {
    const { page, problems } = await openPage(true);
    await page.goto(`${url}?method=cola&preset=micro&steps=40&lr=0.01&evalEvery=20&sampleEvery=20`);
    await page.click("#train");
    await page.waitForFunction(() => ["done", "error"].includes(document.body.dataset.state ?? ""), undefined, { timeout: 45_000 });
    expect(await page.locator("#error").textContent()).toBe("");
    expect(await page.evaluate(() => document.body.dataset.state)).toBe("done");

    const backend = await page.locator("#stat-backend").getAttribute("data-backend");
    expect(backend).toBe(WEBGPU_EXPECTED ? "webgpu" : "wasm");

    const train = JSON.parse((await page.locator("#loss-chart").getAttribute("data-train"))!) as [number, number][];
    const val = JSON.parse((await page.locator("#loss-chart").getAttribute("data-val"))!) as [number, number][];
    expect(train.map((p) => p[0])).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const mean = (xs: [number, number][]) => xs.reduce((s, p) => s + p[1], 0) / xs.length;
    // byte-level: ln 256 = 5.55 at init; forty steps learn at least the byte frequencies
    expect(train[0]![1]).toBeGreaterThan(5);
    expect(mean(train.slice(-5))).toBeLessThan(train[0]![1] - 1);
    expect(val.map((p) => p[0])).toEqual([20, 40]);
    expect(val[1]![1]).toBeLessThan(val[0]![1]);

    const kernels = await page.locator("#kernel-select option").allTextContents();
    const header = (await page.locator("#plan-header").textContent())!;
    expect(header).toMatch(new RegExp(`^${kernels.length} kernels, \\d+ fused`));
    expect(kernels.some((k) => / = matmul\(/.test(k))).toBe(true);
    expect(await page.locator("#plan-text").textContent()).toMatch(new RegExp(`^plan: ${kernels.length} kernels`));
    const fused = await page.locator("#kernel-select option.fused").count();
    if (backend === "webgpu" && fs.existsSync(path.join(ROOT, "fusion/chain.ts"))) expect(fused).toBeGreaterThan(0);
    expect(await page.locator("#plan-saved").textContent()).toMatch(/^\d+ values, /);

    expect((await page.locator("#sample-text").textContent())!.length).toBeGreaterThan(24);
    expect(await page.locator("#stat-memory").textContent()).toMatch(/B \/ .*B$/);

    await page.selectOption("#kernel-select", "0");
    await page.waitForFunction(() => document.getElementById("shader-kernel")?.textContent === "kernel 0");
    const shader = (await page.locator("#shader").textContent())!;
    if (backend === "wasm") expect(shader).toMatch(/not WGSL/);

    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, "playground.png"), fullPage: true });
    expect(problems).toEqual([]);
  });

  it("shows user errors in the page: a rank above the width, a binary file", async () => {
    const { page } = await openPage(true);
    await page.goto(`${url}?preset=micro&rank=100`);
    await page.click("#train");
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/rank 100 is larger than the width d = 64/);
    expect(await page.evaluate(() => document.body.dataset.state)).toBe("idle");

    await page.setInputFiles("#file", { name: "weights.bin", mimeType: "application/octet-stream", buffer: Buffer.from([1, 2, 0, 3]) });
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/weights\.bin looks binary/);
    await page.setInputFiles("#file", { name: "latin1.txt", mimeType: "text/plain", buffer: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20]) });
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/latin1\.txt is not UTF-8 text/);
    expect(await page.locator("#text-name").textContent()).toBe("built-in sample");
  });

  it("without WebGPU, says so and trains on wasm", async () => {
    const { page } = await openPage(false);
    await page.goto(`${url}?preset=micro&backend=webgpu&steps=2&evalEvery=0&sampleEvery=0`);
    await page.click("#train");
    await expect.poll(() => page.locator("#notice").textContent(), { timeout: 20_000 }).toMatch(/WebGPU was asked for, but .*: training on wasm instead/);
    expect(await page.locator("#stat-backend").getAttribute("data-backend")).toBe("wasm");
  });
});
