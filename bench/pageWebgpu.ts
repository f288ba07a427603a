/**
 * `npx tsx bench/pageWebgpu.ts [--steps N] [--method cola] [--preset micro] [--timeout S] [--out FILE]`:
 * the playground's training speed on WebGPU, measured in the page. Builds the page from the checkout it
 * runs in (web/build.ts) into a temporary folder, serves it (web/serve.ts), opens it in headless Chromium
 * (RANKFUSE_CHROMIUM, else /usr/bin/chromium; without a GPU its adapter is SwiftShader), trains with
 * backend=webgpu asked for by name, and reads the worker's step reports ({type: "step", report: {step, ms,
 * tokens}}) as they reach the page. Prints and saves (bench/results/pageWebgpu.json) the first step's time
 * (pipelines compile there) and the median of the later steps, as ms and tokens/s.
 *
 * It relies only on buildPlayground(outDir), serveStatic(root, port), the page's URL parameters, its #train
 * button, body[data-state], #stat-backend (data-backend), #notice, #error and the step message, so it can
 * be copied into an older checkout of the playground and measure that one the same way.
 */
import * as E from "fp-ts/lib/Either.js";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { buildPlayground } from "../web/build.ts";
import { serveStatic } from "../web/serve.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const steps = Number(option("steps", "8"));
const method = option("method", "cola");
const preset = option("preset", "micro"); // the playground's smallest
const timeoutS = Number(option("timeout", "480"));
const outFile = path.resolve(option("out", path.join(ROOT, "bench", "results", "pageWebgpu.json")));
if (!(Number.isInteger(steps) && steps >= 2)) {
  console.error(`pageWebgpu: --steps must be an integer >= 2 (the first step compiles), got ${steps}`);
  process.exit(2);
}
const chromiumPath = process.env.RANKFUSE_CHROMIUM || "/usr/bin/chromium";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** git's answer in this checkout, or null where it is not a git checkout. */
const git = (...args: string[]): string | null => {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
};

interface StepSeen {
  step: number;
  ms: number;
  tokens: number;
  /** performance.now() in the page when the report arrived. */
  at: number;
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-pagebench-"));
const built = await buildPlayground(out);
if (E.isLeft(built)) {
  console.error(`pageWebgpu: the page did not build: ${built.left}`);
  process.exit(1);
}
const { server, url } = await serveStatic(out, 0);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "rankfuse-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let failure: string | null = null;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  // record the worker's step reports as they reach the page (main.ts listens with onmessage; this adds a listener)
  await page.addInitScript(() => {
    const w = window as unknown as { Worker: typeof Worker; benchSteps: unknown[]; benchWorkerAt: number };
    const Base = w.Worker;
    w.benchSteps = [];
    w.Worker = class extends Base {
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        w.benchWorkerAt = performance.now();
        this.addEventListener("message", (ev: MessageEvent) => {
          const m = ev.data as { type?: string; report?: { step: number; ms: number; tokens: number } };
          if (m?.type === "step" && m.report)
            w.benchSteps.push({ step: m.report.step, ms: m.report.ms, tokens: m.report.tokens, at: performance.now() });
        });
      }
    };
  });
  await page.goto(
    `${url}?method=${method}&preset=${preset}&backend=webgpu&steps=${steps}&evalEvery=0&sampleEvery=0&sampleBytes=1`,
  );
  await page.click("#train");
  // done after `steps` reports (the run validates and samples after its last step: not measured)
  await page.waitForFunction(
    (n) =>
      document.body.dataset.state === "error" ||
      (window as unknown as { benchSteps: unknown[] }).benchSteps.length >= n,
    steps,
    { timeout: timeoutS * 1000, polling: 200 },
  );
  const backend = await page.locator("#stat-backend").getAttribute("data-backend");
  const describe = (await page.locator("#stat-backend").textContent()) ?? "";
  const notice = (await page.locator("#notice").textContent()) ?? "";
  const error = (await page.locator("#error").textContent()) ?? "";
  const { seen, workerAt } = await page.evaluate(() => {
    const w = window as unknown as { benchSteps: StepSeen[]; benchWorkerAt: number };
    return { seen: w.benchSteps, workerAt: w.benchWorkerAt };
  });
  if (error) failure = `the page shows an error: ${error}`;
  else if (backend !== "webgpu") failure = `the page trained on ${backend}, not webgpu: ${notice}`;
  else {
    const later = seen.slice(1);
    const medianMs = median(later.map((s) => s.ms));
    const tokens = seen[0]!.tokens;
    // wall time between two reports reaching the page: the step plus the worker's loop and the message
    const wallMs = median(later.map((s, i) => s.at - seen[i]!.at));
    const result = {
      suite: "pageWebgpu",
      commit: git("rev-parse", "--short", "HEAD"),
      dirty: ((d) => (d === null ? null : d !== ""))(git("status", "--porcelain", "--untracked-files=no")),
      date: new Date().toISOString(),
      host: `${os.cpus()[0]?.model ?? "unknown CPU"} x${os.cpus().length}`,
      chromium: await context.browser()?.version(),
      backend: describe,
      notice: notice || undefined,
      method,
      preset,
      steps,
      tokensPerStep: tokens,
      firstStepMs: Math.round(seen[0]!.ms),
      /** From the worker's creation (backend start, compile) to the first report reaching the page. */
      startToFirstStepMs: Math.round(seen[0]!.at - workerAt),
      medianStepMs: Number(medianMs.toFixed(1)),
      tokensPerSecond: Number(((tokens * 1000) / medianMs).toFixed(1)),
      wallMedianStepMs: Number(wallMs.toFixed(1)),
      wallTokensPerSecond: Number(((tokens * 1000) / wallMs).toFixed(1)),
      stepMs: seen.map((s) => Number(s.ms.toFixed(1))),
    };
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + "\n");
    console.log(JSON.stringify(result, null, 2));
    console.log(`saved ${path.relative(process.cwd(), outFile)}`);
  }
} catch (e) {
  failure = (e as Error).message;
} finally {
  await context.close();
  server.close();
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(profile, { recursive: true, force: true });
}
if (failure) {
  console.error(`pageWebgpu: ${failure}`);
  process.exit(1);
}
