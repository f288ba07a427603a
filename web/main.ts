/**
 * The playground page: reads the form, starts a training worker, and shows what it reports (curves,
 * speed, memory, samples, the compiled plan). Every error a user can cause lands in the #error box.
 */
import * as E from "fp-ts/lib/Either.js";
import { METHOD_LIST, METHODS, makeModel } from "../methods/index.ts";
import { fmt } from "../passes/plan.ts";
import { PRESETS, playgroundConfig } from "./presets.ts";
import type { BackendChoice, FromWorker, RunRequest, ToWorker } from "./protocol.ts";
import { decodeTextFile } from "./textFile.ts";
import { Curves } from "./curves.ts";
import { KernelList } from "./kernelList.ts";
import { RunClock, estimateLine } from "./progress.ts";
import { SampleHistory } from "./samples.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const select = (id: string) => $<HTMLSelectElement>(id);

/** Methods that build at the playground's sizes (every method's model and scheme are browser-safe). */
function browserMethods(): string[] {
  const cfg = playgroundConfig("micro");
  return METHODS.filter((m) => E.isRight(cfg) && E.isRight(makeModel(m, cfg.right)));
}

const showError = (message: string | null) => {
  const box = $("error");
  box.hidden = message === null;
  box.textContent = message ?? "";
};
const showNotice = (message: string | null) => {
  const box = $("notice");
  box.hidden = message === null;
  box.textContent = message ?? "";
};
window.addEventListener("error", (ev) => showError(`unexpected error: ${ev.message}`));
window.addEventListener("unhandledrejection", (ev) =>
  showError(`unexpected error: ${(ev.reason as Error)?.message ?? String(ev.reason)}`),
);

let text: { name: string; body: string | null } = { name: "built-in sample", body: null };
let worker: Worker | undefined;
let predictedPeak = 0,
  measuredPeak = 0,
  speed = 0,
  paramBytes = 0,
  tokensPerStep = 0;
const curves = new Curves($("loss-chart"));
const samples = new SampleHistory($("samples"), $("sample-empty"));
const kernels = new KernelList($("kernel-select"), (kernel) =>
  worker?.postMessage({ type: "shader", kernel } satisfies ToWorker),
);
let clock: RunClock | undefined;
/** The settings of the run the worker has (for the time estimate it leaves behind). */
let running: { key: string } | undefined;

/** Where the time per step of a preset, method and backend choice is remembered between visits. */
const speedKey = (preset: string, method: string, backend: string) =>
  `rankfuse.msPerStep.${preset}.${method}.${backend}`;
const remembered = (key: string): number | undefined => {
  try {
    const v = Number(localStorage.getItem(key));
    return v > 0 ? v : undefined;
  } catch {
    return undefined; // storage blocked: no estimate
  }
};
const remember = (key: string, ms: number) => {
  try {
    localStorage.setItem(key, String(ms));
  } catch {
    // storage blocked: the next visit has no estimate
  }
};

/** The estimate under the buttons: the form's steps at the time per step measured last time. */
function showEstimate() {
  const steps = Number(input("steps").value);
  const key = speedKey(select("preset").value, select("method").value, select("backend").value);
  $("estimate").textContent = Number.isInteger(steps) && steps > 0 ? estimateLine(steps, remembered(key)) : "";
}

function showProgress() {
  if (!clock) return;
  $("progress").textContent = clock.line();
  const bar = $<HTMLProgressElement>("progress-bar");
  bar.max = clock.total;
  bar.value = clock.step;
}

/** Empties what the page shows of a run: stats, curves, samples, the plan, the progress line. */
function clearRun() {
  for (const id of [
    "stat-backend",
    "stat-model",
    "stat-step",
    "stat-loss",
    "stat-val",
    "stat-speed",
    "stat-memory",
    "stat-bytes",
  ])
    $(id).textContent = "–";
  [measuredPeak, speed] = [0, 0];
  curves.clear();
  samples.clear();
  kernels.set([]);
  $("plan-legend").replaceChildren();
  for (const id of ["plan-header", "plan-measured", "shader-kernel"]) $(id).textContent = "";
  for (const id of ["plan-saved", "plan-recomputed"]) $(id).textContent = "–";
  $("plan-text").textContent = "";
  $("shader").textContent = "Select a kernel above.";
  $("progress").textContent = "not started";
  $<HTMLProgressElement>("progress-bar").value = 0;
  clock = undefined;
}

function setState(state: string, note?: string) {
  document.body.dataset.state = state;
  $("stat-state").textContent = note ? `${state} (${note})` : state;
  const active = state === "training" || state === "loading" || state === "compiling";
  // a run reads its settings once, at Train: while one is under way they cannot change
  $<HTMLFieldSetElement>("run-fields").disabled = active;
  input("file").disabled = active;
  $<HTMLButtonElement>("use-sample").disabled = active;
  $("drop-zone").classList.toggle("disabled", active);
  if (active) $("form-note").hidden = true;
  if (state === "training") clock?.start();
  else if (clock) {
    clock.stop();
    if (running && clock.step > 0 && Number.isFinite(clock.msPerStep)) remember(running.key, clock.msPerStep);
  }
  showProgress();
  showEstimate();
  $<HTMLButtonElement>("train").disabled = active;
  $<HTMLButtonElement>("stop").disabled = state !== "training";
  $<HTMLButtonElement>("resume").disabled = state !== "stopped";
  $<HTMLButtonElement>("download").disabled = !(state === "stopped" || state === "done" || state === "training");
}

function readRun(): E.Either<string, Omit<RunRequest, "text" | "textName">> {
  const num = (id: string) => Number(input(id).value);
  const rankText = input("rank").value.trim();
  const rank = rankText === "" ? undefined : Number(rankText);
  const preset = select("preset").value;
  const cfg = playgroundConfig(preset, rank);
  if (E.isLeft(cfg)) return cfg;
  const steps = num("steps"),
    lr = num("lr");
  if (!(Number.isInteger(steps) && steps > 0))
    return E.left(`steps must be a positive integer, got "${input("steps").value}"`);
  if (!(lr > 0 && lr < 1)) return E.left(`the learning rate must be a number in (0, 1), got "${input("lr").value}"`);
  const evalEvery = num("eval-every"),
    sampleEvery = num("sample-every"),
    temperature = num("temperature"),
    sampleBytes = num("sample-bytes");
  if (![evalEvery, sampleEvery].every((n) => Number.isInteger(n) && n >= 0))
    return E.left("validate every and sample every must be integers >= 0 (0: only at the end)");
  if (!(Number.isInteger(sampleBytes) && sampleBytes > 0 && sampleBytes <= 2000))
    return E.left(`the sample length must be an integer in 1..2000 bytes, got "${input("sample-bytes").value}"`);
  if (!(temperature >= 0))
    return E.left(`the temperature must be >= 0 (0 samples greedily), got "${input("temperature").value}"`);
  return E.right({
    method: select("method").value,
    preset,
    rank,
    backend: select("backend").value as BackendChoice,
    steps,
    lr,
    evalEvery,
    sampleEvery,
    sampleBytes,
    temperature,
  });
}

async function trainingText(): Promise<E.Either<string, { name: string; body: string }>> {
  if (text.body !== null) return E.right({ name: text.name, body: text.body });
  try {
    const res = await fetch("sample.txt");
    if (!res.ok) return E.left(`cannot load the built-in sample text: HTTP ${res.status}`);
    return E.right({ name: text.name, body: await res.text() });
  } catch (e) {
    return E.left(`cannot load the built-in sample text: ${(e as Error).message}`);
  }
}

function onMessage(m: FromWorker) {
  switch (m.type) {
    case "state":
      return setState(m.state, m.note);
    case "error":
      return showError(m.message);
    case "backend":
      $("stat-backend").textContent =
        `${m.name} — ${m.describe}; fused kernels: ${m.fusedKinds.length ? m.fusedKinds.join(", ") : "none (fused chains run as their parts)"}`;
      $("stat-backend").dataset.backend = m.name;
      $("stat-backend").dataset.fusedKinds = m.fusedKinds.join(",");
      return showNotice(m.note ?? null);
    case "model":
      $("stat-model").textContent = `${m.text}; ${fmt(m.params)} params`;
      $("stat-step").dataset.total = String(m.steps);
      clock = new RunClock(m.steps, () => performance.now());
      showProgress();
      paramBytes = m.params * 4;
      tokensPerStep = m.tokensPerStep;
      return;
    case "plan": {
      const p = m.plan;
      predictedPeak = p.predictedPeakBytes;
      const fused = p.kernels.filter((k) => k.fused).length;
      $("plan-header").textContent =
        `${p.kernels.length} kernels, ${fused} fused, predicted peak ${fmt(p.predictedPeakBytes)}B`;
      $("plan-saved").textContent = p.saved;
      $("plan-recomputed").textContent = p.recomputed;
      $("plan-text").textContent = p.text;
      kernels.set(p.kernels);
      $("plan-legend").replaceChildren(
        ...p.legend.flatMap((l) => [
          Object.assign(document.createElement("dt"), { textContent: l.kind }),
          Object.assign(document.createElement("dd"), { textContent: l.text }),
        ]),
      );
      return;
    }
    case "step": {
      const r = m.report;
      measuredPeak = Math.max(measuredPeak, r.peakBytes);
      const now = (r.tokens * 1000) / r.ms;
      speed = speed === 0 ? now : 0.8 * speed + 0.2 * now;
      $("stat-step").textContent = `${r.step} / ${$("stat-step").dataset.total} (lr ${r.lr.toExponential(2)})`;
      clock?.record(r.step, r.ms);
      showProgress();
      $("stat-loss").textContent = r.loss.toFixed(4);
      $("stat-speed").textContent = speed.toFixed(0);
      $("stat-memory").textContent = `${fmt(measuredPeak)}B / ${fmt(predictedPeak)}B`;
      $("plan-measured").textContent = `· measured peak ${fmt(measuredPeak)}B`;
      // what crossed between this page's worker and the backend: the batch, not the weights
      $("stat-bytes").textContent =
        `${fmt(r.bytesIn)}B in, ${fmt(r.bytesOut)}B out (a batch's ids and targets: ${fmt(tokensPerStep * 8)}B; the params: ${fmt(paramBytes)}B)`;
      $("stat-bytes").dataset.bytesIn = String(r.bytesIn);
      $("stat-bytes").dataset.bytesOut = String(r.bytesOut);
      return curves.add("train", r.step, r.loss);
    }
    case "val":
      $("stat-val").textContent = `${m.loss.toFixed(4)} at step ${m.step}`;
      return curves.add("val", m.step, m.loss);
    case "sample":
      return samples.add(m.step, m.prompt, m.text);
    case "weights": {
      const url = URL.createObjectURL(
        new Blob([m.bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }),
      );
      const a = Object.assign(document.createElement("a"), { href: url, download: m.fileName });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      return;
    }
    case "shader":
      $("shader-kernel").textContent = `kernel ${m.kernel}`;
      $("shader").textContent = m.wgsl ?? m.note;
      return;
  }
}

async function train() {
  showError(null);
  showNotice(null);
  const run = readRun();
  if (E.isLeft(run)) return showError(run.left);
  if (
    document.body.dataset.state === "stopped" &&
    !confirm(
      `Start a new run? The stopped one (${clock?.line() ?? "stopped"}) is discarded: its curves, samples and weights (download them first to keep them).`,
    )
  )
    return;
  setState("loading");
  const body = await trainingText();
  if (E.isLeft(body)) {
    setState("idle");
    return showError(body.left);
  }
  worker?.terminate();
  clearRun();
  running = { key: speedKey(run.right.preset, run.right.method, run.right.backend) };
  worker = new Worker(new URL("worker.js", location.href), { type: "module" });
  worker.onmessage = (ev: MessageEvent<FromWorker>) => onMessage(ev.data);
  worker.onerror = (ev) => {
    showError(`the training worker failed: ${ev.message || "it could not start (see the browser console)"}`);
    setState("error");
  };
  const send = (m: ToWorker) => worker!.postMessage(m);
  send({ type: "start", run: { ...run.right, text: body.right.body, textName: body.right.name } });
}

async function useFile(file: File) {
  showError(null);
  if ($<HTMLFieldSetElement>("run-fields").disabled)
    return showError("a run is under way: stop it, then choose the text for the next one");
  const decoded = decodeTextFile(file.name, new Uint8Array(await file.arrayBuffer()), 1024);
  if (E.isLeft(decoded)) return showError(decoded.left);
  text = { name: `${file.name} (${fmt(file.size)}B)`, body: decoded.right };
  $("text-name").textContent = text.name;
}

function setup() {
  const methods = browserMethods();
  select("method").replaceChildren(...methods.map((m) => new Option(m, m, m === "cola", m === "cola")));
  const summary = () =>
    ($("method-summary").textContent = METHOD_LIST.find((m) => m.name === select("method").value)?.summary ?? "");
  select("preset").replaceChildren(...PRESETS.map((p) => new Option(p, p)));
  // the URL can preset the form: ?method=cola&preset=micro&steps=50
  const q = new URLSearchParams(location.search);
  for (const [key, id] of [
    ["method", "method"],
    ["preset", "preset"],
    ["rank", "rank"],
    ["backend", "backend"],
    ["steps", "steps"],
    ["lr", "lr"],
    ["evalEvery", "eval-every"],
    ["sampleEvery", "sample-every"],
    ["sampleBytes", "sample-bytes"],
    ["temperature", "temperature"],
  ] as const) {
    const v = q.get(key);
    if (v !== null) ($(id) as HTMLInputElement | HTMLSelectElement).value = v;
  }
  const placeholder = () => {
    const cfg = playgroundConfig(select("preset").value);
    input("rank").placeholder = E.isRight(cfg) ? `${cfg.right.rank} (width ${cfg.right.d})` : "";
  };
  select("preset").addEventListener("change", placeholder);
  placeholder();
  select("method").addEventListener("change", summary);
  summary();
  $("run-form").addEventListener("input", showEstimate);
  $("run-form").addEventListener("change", showEstimate);
  // edits while a run is stopped are for the next Train: Resume goes on with the run's own settings
  $("run-form").addEventListener("input", () => {
    if (document.body.dataset.state !== "stopped") return;
    $("form-note").hidden = false;
    $("form-note").textContent =
      "These settings apply to the next Train, which starts a new run; Resume continues the stopped run with the settings it started with.";
  });

  $("train").addEventListener("click", () => void train());
  $("stop").addEventListener("click", () => worker?.postMessage({ type: "stop" } satisfies ToWorker));
  $("resume").addEventListener("click", () => worker?.postMessage({ type: "resume" } satisfies ToWorker));
  $("download").addEventListener("click", () => worker?.postMessage({ type: "weights" } satisfies ToWorker));
  input("file").addEventListener("change", () => {
    const f = input("file").files?.[0];
    if (f) void useFile(f);
  });
  $("use-sample").addEventListener("click", () => {
    text = { name: "built-in sample", body: null };
    $("text-name").textContent = text.name;
    input("file").value = "";
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (ev) => (ev.preventDefault(), zone.classList.add("over")));
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    const f = ev.dataTransfer?.files[0];
    if (f) void useFile(f);
    else showError("nothing to read in what was dropped: drop a text file");
  });
  setState("idle");
  // the elapsed time ticks between steps too (a step of the tiny preset on wasm takes seconds)
  setInterval(() => document.body.dataset.state === "training" && showProgress(), 1000);
}

setup();
