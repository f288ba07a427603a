import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { chromiumRequirement } from "../helpers/requirements.ts";

/**
 * The webgpu backend in a real browser: page.ts (a CoLA layer's forward and gradients on WebGPU and on
 * the float64 reference) is bundled with esbuild, served from a localhost server this test starts, and
 * opened in the system's headless Chromium (Debian package `chromium`, or RANKFUSE_CHROMIUM;
 * playwright-core never downloads one) with WebGPU switched on; without a GPU that is SwiftShader.
 * Skipped with the reason printed where Chromium is missing, unless RANKFUSE_REQUIRE_BROWSER is set
 * (CI installs it), which makes that a failure.
 */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const browser = await chromiumRequirement();

describe.skipIf(browser.skip)(browser.title("webgpu backend in headless Chromium"), () => {
  let server: Server, context: BrowserContext, profile: string, url: string;

  beforeAll(async () => {
    const executablePath = browser.get();
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL("./page.ts", import.meta.url))],
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      define: { "process.env": "{}" }, // library modules read optional RANKFUSE_* settings
      logLevel: "silent",
    });
    const js = bundle.outputFiles[0]!.contents;
    const html = `<!doctype html><meta charset="utf-8"><title>rankfuse webgpu</title><script type="module" src="/page.js"></script>`;
    server = createServer((req, res) => {
      if (req.url === "/page.js") res.writeHead(200, { "content-type": "text/javascript" }).end(js);
      else if (req.url === "/") res.writeHead(200, { "content-type": "text/html" }).end(html);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    profile = mkdtempSync(path.join(tmpdir(), "rankfuse-chromium-"));
    context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: FLAGS });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("a compiled CoLA layer's forward and gradients match the float64 reference", async () => {
    const page = await context.newPage();
    const logs: string[] = [];
    page.on("console", (m) => logs.push(m.text()));
    page.on("pageerror", (e) => logs.push(String(e)));
    await page.goto(url);
    await page.waitForFunction(() => window.rankfuseResult !== undefined, undefined, { timeout: 90_000 });
    const result = await page.evaluate(() => window.rankfuseResult!);
    expect(result.error, logs.join("\n")).toBeUndefined();
    expect(result.adapter).toMatch(/via navigator\.gpu, (software|hardware) adapter/);
    expect(result.gradNorm).toBeGreaterThan(0.1); // a real signal, not two zeros agreeing
    for (const [what, rel] of Object.entries(result.errors!)) expect(rel, what).toBeLessThan(1e-4);
    expect(Object.keys(result.errors!).sort()).toEqual(["A", "B", "value", "x"]);
    // the layer ran on the fused WGSL kernels: per seed 1 forward dispatch and 3 backward (dZ+dX, dA, dB),
    // and 1 for the elementwise group of the loss's cotangent (broadcast, then multiplied by w)
    expect(result.fused!.dispatches).toBe(2 * 5);
    expect(result.fused!.programs.map((k) => k.split("_").slice(0, 2).join("_")).sort()).toEqual([
      "elementwise_2",
      "rowChain_backward",
      "rowChain_forward",
      "tokenReduce_hdYdB",
      "tokenReduce_xdZdA",
    ]);
  }, 120_000);
});
