/// <reference lib="webworker" />
/**
 * The training worker: builds the model, compiles it on the chosen backend and trains, one step per
 * task, so a Stop message is handled between two steps and the page never waits on training.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Backend } from "../ir/backend.ts";
import type { WebgpuBackend } from "../backends/webgpu/backend.ts";
import { loadBrowserBackend } from "./backends.ts";
import { summarizePlan } from "./planSummary.ts";
import type { FromWorker, RunRequest, ToWorker } from "./protocol.ts";
import { Session } from "./session.ts";
import { ShaderRecorder, shaderSource } from "./shaders.ts";

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);
/** Lets queued messages (Stop) run before the next step. */
const nextTask = () => new Promise<void>((r) => setTimeout(r, 0));

let session: Session | undefined;
let backend: Backend<any> | undefined;
let run: RunRequest | undefined;
let shaders: ShaderRecorder | undefined;
let webgpu: WebgpuBackend | undefined;
let running = false;

const fail = (message: string) => {
  running = false;
  post({ type: "error", message });
  post({ type: "state", state: "error" });
};

async function start(r: RunRequest): Promise<void> {
  running = false;
  session?.dispose(); // the previous run's buffers on the backend
  session = undefined;
  run = r;
  post({ type: "state", state: "loading" });
  const loaded = await loadBrowserBackend(r.backend);
  if (E.isLeft(loaded)) return fail(loaded.left);
  backend = loaded.right.backend;
  webgpu = loaded.right.webgpu;
  shaders = webgpu && new ShaderRecorder(webgpu.gpu);
  const fusedKinds = backend.caps.fusedChains ? [...(backend.caps.fusedKinds ?? [])] : [];
  post({ type: "backend", name: backend.name, describe: backend.describe(), fusedKinds, note: loaded.right.note });
  post({ type: "state", state: "compiling" });
  await nextTask();
  const s = Session.create(shaders ? shaders.instrument(backend) : backend, r.text, {
    method: r.method,
    preset: r.preset,
    rank: r.rank,
    steps: r.steps,
    lr: r.lr,
    seed: 1,
    evalBatches: 4,
    sampleContext: 64,
  });
  if (E.isLeft(s)) return fail(s.left);
  session = s.right;
  const { config, counts } = session.model;
  const scheme = session.describeScheme();
  post({
    type: "model",
    text: `${r.method} · ${config.name}: d ${config.d}, ${config.layers} layers, ${config.heads} heads, rank ${config.rank}, seq ${config.seq}, batch ${config.batch}${scheme ? `; ${scheme}` : ""}`,
    params: counts.total,
    steps: r.steps,
    tokensPerStep: config.batch * config.seq,
  });
  post({
    type: "plan",
    plan: summarizePlan(session.plan, session.model, config.batch, config.seq, session.inputNames),
  });
  await loop();
}

async function loop(): Promise<void> {
  const s = session!,
    r = run!;
  running = true;
  const slowStart = s.stepsDone === 0 && webgpu?.adapter.software;
  post({
    type: "state",
    state: "training",
    note: slowStart
      ? "the first step compiles every GPU pipeline, which takes a while on a software adapter"
      : undefined,
  });
  try {
    while (running && !s.done) {
      // the first step also records the WGSL each kernel runs, for the plan panel
      const rep = shaders && s.stepsDone === 0 ? await shaders.during(s.plan, () => s.trainOne()) : await s.trainOne();
      if (E.isLeft(rep)) return fail(rep.left);
      post({ type: "step", report: rep.right });
      if (slowStart && rep.right.step === 1) post({ type: "state", state: "training" });
      const step = rep.right.step;
      if ((r.evalEvery > 0 && step % r.evalEvery === 0) || s.done) {
        const v = await s.validate();
        if (E.isLeft(v)) return fail(v.left);
        post({ type: "val", step, loss: v.right });
      }
      if ((r.sampleEvery > 0 && step % r.sampleEvery === 0) || s.done) {
        const t = await s.sample(s.prompt, r.sampleBytes, r.temperature, step);
        if (E.isLeft(t)) return fail(t.left);
        post({ type: "sample", step, prompt: s.prompt, text: t.right });
      }
      await nextTask();
    }
  } catch (e) {
    // a broken internal invariant: still say what happened in the page
    return fail(`internal error: ${(e as Error).message}`);
  }
  running = false;
  post({ type: "state", state: s.done ? "done" : "stopped" });
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case "start":
      void start(m.run).catch((e) => fail(`internal error: ${(e as Error).message}`));
      return;
    case "stop":
      running = false;
      return;
    case "resume":
      if (session && !running && !session.done) void loop();
      return;
    case "weights": {
      if (!session) return post({ type: "error", message: "nothing to download yet: train a model first" });
      const s = session;
      void s
        .weights()
        .then((bytes) =>
          post(
            {
              type: "weights",
              bytes,
              fileName: `rankfuse-${s.model.method}-${s.model.config.name}-step${s.stepsDone}.safetensors`,
            },
            [bytes.buffer],
          ),
        )
        .catch((e) => fail(`internal error: ${(e as Error).message}`));
      return;
    }
    case "shader": {
      if (!session || !backend) return;
      post({ type: "shader", kernel: m.kernel, ...shaderSource(backend, webgpu, session.plan, shaders, m.kernel) });
      return;
    }
  }
};
