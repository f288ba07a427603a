/**
 * The playground's pieces that need no browser, run in Node on the wasm backend: the step-by-step
 * training session, greedy/temperature picking, the dropped-file check, the preset configs, the plan
 * summary and the bundle's Node-module check.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import path from "node:path";
import type { Backend } from "../../ir/backend.ts";
import { wasmBackend } from "../../backends/wasm/backend.ts";
import { gutenbergDir, readTextFile } from "../../train/corpus.ts";
import { decodeSafetensors } from "../../train/safetensors.ts";
import { Rng } from "../../util/rng.ts";
import { METHODS, makeModel } from "../../methods/index.ts";
import { compileTrainStep, planTrainStep } from "../../train/step.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { CHAIN_KINDS } from "../../ir/fusedKinds.ts";
import { Session, pick, wordPrompt, type SessionOptions } from "../../web/session.ts";
import { decodeTextFile } from "../../web/textFile.ts";
import { playgroundConfig } from "../../web/presets.ts";
import { summarizePlan } from "../../web/planSummary.ts";
import { nodeModulesIn } from "../../web/build.ts";
import { runs } from "../helpers/runs.ts";

const OPTS: SessionOptions = {
  method: "cola",
  preset: "micro",
  steps: 4,
  lr: 0.01,
  seed: 3,
  evalBatches: 2,
  sampleContext: 32,
};
let backend: Backend<any>;
let text: string;

beforeAll(async () => {
  backend = await wasmBackend();
  const book = readTextFile(path.join(gutenbergDir(), "carroll-alice.txt"), true);
  if (E.isLeft(book)) throw new Error(book.left.message);
  text = book.right.slice(0, 60_000);
});

const right = <T>(e: E.Either<string, T>): T => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

describe("Session", () => {
  it("trains step by step, validates, samples deterministically and exports its weights", async () => {
    const s = right(Session.create(backend, text, OPTS));
    const losses: number[] = [];
    while (!s.done) {
      const r = right(await s.trainOne());
      expect(r.step).toBe(losses.length + 1);
      expect(r.tokens).toBe(8 * 64);
      expect(r.peakBytes).toBeGreaterThan(0);
      losses.push(r.loss);
    }
    expect(losses).toHaveLength(4);
    expect(losses[3]!).toBeLessThan(losses[0]!);
    expect(right(await s.validate())).toBeLessThan(Math.log(256));

    const greedy = right(await s.sample("Alice was ", 6, 0, 1));
    expect(right(await s.sample("Alice was ", 6, 0, 2))).toBe(greedy); // greedy ignores the seed
    expect(right(await s.sample("Alice was ", 6, 1, 5))).toBe(right(await s.sample("Alice was ", 6, 1, 5)));

    const st = decodeSafetensors(await s.weights());
    if (E.isLeft(st)) throw new Error(st.left.message);
    const model = right(
      E.mapLeft((e: { message: string }) => e.message)(makeModel("cola", JSON.parse(st.right.metadata.config!))),
    );
    expect(Object.keys(st.right.tensors).sort()).toEqual([...model.layout.names].sort());
    expect(st.right.metadata).toMatchObject({ method: "cola", step: "4" });
    // trained weights differ from the init of the same seed
    const init = model.init(OPTS.seed);
    const i = model.layout.names.indexOf("blocks.0.q.A");
    expect(Array.from(st.right.tensors["blocks.0.q.A"]!.data)).not.toEqual(Array.from(init[i]!));
  });

  it("prompts from a word boundary of the validation text and names its step's inputs", () => {
    const s = right(Session.create(backend, text, OPTS));
    expect(s.prompt).toMatch(/^\S[^]*\s$/);
    expect(text).toContain(s.prompt);
    expect(/\s$/.test(text.slice(0, text.indexOf(s.prompt)))).toBe(true);
    // one name per graph input of the plan the page shows: params by path, then moments, scalars, batch
    const names = s.inputNames;
    expect(names).toHaveLength(s.plan.graph.inputs.length);
    expect(names.slice(0, s.model.layout.names.length)).toEqual([...s.model.layout.names]);
    expect(names).toContain("m.blocks.0.q.A");
    expect(names.slice(-2)).toEqual(["ids", "targets"]);
    s.dispose();
  });

  it("refuses what a user can get wrong with one readable message", () => {
    const left = (o: Partial<SessionOptions>, t = text) => {
      const r = Session.create(backend, t, { ...OPTS, ...o });
      return E.isLeft(r) ? r.left : "no error";
    };
    expect(left({}, text.slice(0, 3000))).toMatch(/the text has 3000 bytes; preset micro needs at least 5130/);
    expect(left({ rank: 65 })).toMatch(/rank 65 is larger than the width d = 64/);
    expect(left({ method: "nope" })).toMatch(/unknown model "nope"/);
    expect(left({ lr: 2 })).toMatch(/learning rate must be in \(0, 1\)/);
  });
});

describe("wordPrompt", () => {
  it("drops the partial first word and ends after a whole word", () => {
    expect(wordPrompt("ntleman said that he would come", 16)).toBe("said that he ");
    expect(wordPrompt("said that he would come", 12)).toBe("that he ");
    expect(wordPrompt("abcdefghijklmnopqrstuvwxyz", 8)).toBe("abcdefgh"); // nothing to cut at: as it is
  });
});

describe("every method the page offers", () => {
  it("trains a few steps in the session (its scheme, if any, included)", { timeout: 120_000 }, async () => {
    const cfg = right(playgroundConfig("micro"));
    const methods = METHODS.filter((m) => E.isRight(makeModel(m, cfg)));
    expect(methods).toEqual(expect.arrayContaining(["full", "cola", "colaM"]));
    for (const method of methods) {
      const s = right(
        E.mapLeft((e: string) => `${method}: ${e}`)(Session.create(backend, text, { ...OPTS, method, steps: 3 })),
      );
      const losses: number[] = [];
      while (!s.done) losses.push(right(await s.trainOne()).loss);
      expect(losses.every(Number.isFinite), `${method}: ${losses}`).toBe(true);
      expect(losses[2]!, method).toBeLessThan(losses[0]!);
    }
  });
});

describe("pick", () => {
  it("is the argmax at temperature 0 and always a valid index", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.float({ min: 0, max: 5, noNaN: true }),
        fc.nat(),
        (xs, t, seed) => {
          const row = Float32Array.from(xs);
          const argmax = row.indexOf(Math.max(...row));
          expect(pick(row, 0, Rng.fromSeed(seed))).toBe(argmax);
          const j = pick(row, t, Rng.fromSeed(seed));
          expect(Number.isInteger(j) && j >= 0 && j < row.length).toBe(true);
        },
      ),
      { numRuns: runs(100) },
    );
  });

  it("samples in proportion to softmax(logits / T)", () => {
    const row = Float32Array.from([Math.log(3), 0]); // probabilities 3/4 and 1/4 at T = 1
    const rng = Rng.fromSeed(7);
    let zeros = 0;
    for (let i = 0; i < 4000; i++) zeros += pick(row, 1, rng) === 0 ? 1 : 0;
    expect(zeros / 4000).toBeCloseTo(0.75, 1);
  });
});

describe("decodeTextFile", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it("accepts UTF-8 text (CRLF becomes LF) and refuses binary, non-UTF-8 and too-short files", () => {
    expect(decodeTextFile("a.txt", enc("héllo\r\nworld\r\n"), 4)).toEqual(E.right("héllo\nworld\n"));
    expect(decodeTextFile("a.bin", Uint8Array.from([65, 66, 0, 1]), 1)).toEqual(
      E.left("a.bin looks binary (a NUL byte at offset 2): drop a UTF-8 text file"),
    );
    expect(decodeTextFile("l.txt", Uint8Array.from([0x63, 0xe9]), 1)).toEqual(
      E.left("l.txt is not UTF-8 text: drop a UTF-8 text file"),
    );
    expect(decodeTextFile("s.txt", enc("hi"), 1024)).toEqual(
      E.left("s.txt has 2 bytes; the playground needs at least 1024 to train and validate on"),
    );
  });
});

describe("presets", () => {
  it("micro and tiny resolve, with the rank checked against the width", () => {
    expect(right(playgroundConfig("micro"))).toMatchObject({ name: "micro", d: 64, rank: 16, seq: 64 });
    expect(right(playgroundConfig("tiny", 32))).toMatchObject({ name: "tiny", d: 256, rank: 32 });
    expect(playgroundConfig("tiny", 300)).toEqual(E.left("preset tiny: rank 300 is larger than the width d = 256"));
    expect(playgroundConfig("huge")).toEqual(E.left('unknown preset "huge": choose one of micro, tiny'));
    expect(playgroundConfig("micro", 0)).toEqual(E.left("rank must be a positive integer, got 0"));
  });
});

describe("summarizePlan", () => {
  const summary = (method: string) => {
    const cfg = right(playgroundConfig("micro"));
    const model = makeModel(method, cfg);
    if (E.isLeft(model)) throw new Error(model.left.message);
    const plan = planTrainStep(model.right, cfg.batch, cfg.seq);
    if (E.isLeft(plan)) throw new Error(plan.left.message);
    return { s: summarizePlan(plan.right, model.right, cfg.batch, cfg.seq), plan: plan.right };
  };
  it("lists every kernel, what CoLA saves, and what CoLA-M recomputes instead", () => {
    const cola = summary("cola"),
      colaM = summary("colaM");
    expect(cola.s.kernels).toHaveLength(cola.plan.kernelCount);
    expect(cola.s.recomputed).toMatch(/^nothing/);
    expect(cola.s.saved).toMatch(/cola_act ×14/);
    const m = /^(\d+) equations in backward \(policy colaM\)/.exec(colaM.s.recomputed);
    expect(Number(m?.[1])).toBeGreaterThan(0);
    expect(Number(m?.[1])).toBe(colaM.plan.kernelCount - cola.plan.kernelCount);
    expect(colaM.s.predictedPeakBytes).toBeLessThan(cola.s.predictedPeakBytes);
  });

  it("marks the fused kernels of a plan made for a backend that fuses, with their kind and every output", () => {
    const cfg = right(playgroundConfig("micro"));
    const model = makeModel("cola", cfg);
    if (E.isLeft(model)) throw new Error(model.left.message);
    const ref = referenceBackend();
    const fusing: Backend<any> = {
      ...ref,
      caps: { ...ref.caps, float64: false, fusedChains: true, fusedKinds: new Set(CHAIN_KINDS) },
    };
    const step = compileTrainStep(model.right, fusing, cfg.batch, cfg.seq);
    if (E.isLeft(step)) throw new Error(step.left.message);
    // the compiled train step's inputs: the params (cola freezes none), then the batch
    const names = [...model.right.layout.names, "ids", "targets"];
    const s = summarizePlan(step.right.plan, model.right, cfg.batch, cfg.seq, names);
    const fused = s.kernels.filter((k) => k.fused);
    expect(fused.length).toBeGreaterThan(0);
    expect(fused.length).toBe(step.right.plan.launches.filter((l) => l.eqn.prim === "fused").length);
    for (const k of fused) expect(k.label).toMatch(/^ *\d+ (%\d+:f32\[[^\]]*\] )+= fused\.\w+\(/);
    expect(s.kernels.filter((k) => !k.fused).every((k) => !/fused/.test(k.label))).toBe(true);
    // inputs that are params show by name (a fused lowrank by role too); the legend lists each fused kind once
    expect(s.kernels.some((k) => /= fused\.lowrank\(x=%\d+, A=blocks\.0\.q\.A, B=blocks\.0\.q\.B/.test(k.label))).toBe(
      true,
    );
    expect(s.kernels.some((k) => /= gather\(embed, ids\)/.test(k.label))).toBe(true);
    const kinds = new Set(fused.map((k) => /= (fused\.\w+)\(/.exec(k.label)![1]));
    expect(s.legend.map((l) => l.kind).sort()).toEqual([...kinds].sort());
    expect(s.legend.find((l) => l.kind === "fused.lowrank")?.text).toMatch(/y = act\(x·A\)·B/);
    // names of the wrong length are ignored rather than misapplied
    const unnamed = summarizePlan(step.right.plan, model.right, cfg.batch, cfg.seq, ["ids"]);
    expect(unnamed.kernels.some((k) => /blocks\./.test(k.label))).toBe(false);
  });
});

describe("nodeModulesIn", () => {
  it("finds Node built-ins among a bundle's inputs and imports", () => {
    const meta = {
      inputs: {
        "web/main.ts": {
          bytes: 1,
          imports: [{ path: "node:fs", kind: "import-statement" as const, original: "node:fs" }],
        },
        "train/x.ts": {
          bytes: 1,
          imports: [
            { path: "path", kind: "import-statement" as const, original: "path" },
            { path: "web/y.ts", kind: "import-statement" as const, original: "./y.ts" },
          ],
        },
      },
      outputs: {},
    };
    expect(nodeModulesIn(meta)).toEqual(["node:fs (imported by web/main.ts)", "path (imported by train/x.ts)"]);
  });
});
