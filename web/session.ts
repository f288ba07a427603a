/**
 * The playground's training loop, one step at a time so the worker can stop, resume and report between
 * steps. It is train/loop.ts without the parts a page has no use for (files, checkpoints): the same
 * batches and training state (train/trainState.ts: params and moments stay on the backend; clipping,
 * warmup + cosine, the method's training scheme and AdamW, with the CLI's defaults).
 */
import * as E from "fp-ts/lib/Either.js";
import { dim } from "../ir/dim.ts";
import { spec } from "../dsl/spec.ts";
import { compile, type Compiled } from "../run/compile.ts";
import type { Tensor } from "../dsl/trace.ts";
import type { Backend } from "../ir/backend.ts";
import type { TrainableModel } from "../train/scheme.ts";
import { makeModel } from "../methods/index.ts";
import { BatchSampler, evalWindows, type Batch } from "../train/batches.ts";
import { evaluate } from "../train/evaluate.ts";
import { defaultWarmupSteps, UPDATE_DEFAULTS } from "../train/update.ts";
import { updateStepInputNames } from "../train/updateStep.ts";
import { frozenMask } from "../train/step.ts";
import { divergedAt } from "../train/divergence.ts";
import { TrainState } from "../train/trainState.ts";
import { byteTokenizer } from "../train/tokenizer.ts";
import { encodeSafetensors } from "../train/safetensors.ts";
import { Rng } from "../util/rng.ts";
import type { Plan } from "../passes/plan.ts";
import { playgroundConfig } from "./presets.ts";

export interface SessionOptions {
  readonly method: string;
  readonly preset: string;
  readonly rank?: number;
  readonly steps: number;
  readonly lr: number;
  readonly seed: number;
  /** Validation batches per evaluation. */
  readonly evalBatches: number;
  /** Bytes of context the sampler sees (a short window keeps generation quick). */
  readonly sampleContext: number;
}

export interface StepReport {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly ms: number;
  readonly tokens: number;
  /** The executor's measured peak of backend bytes during this step. */
  readonly peakBytes: number;
  /** Bytes written to and read from the backend during this step. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** The last tenth of the text validates, the rest trains: a fixed split, so validation stays unseen. */
export const VAL_FRACTION = 0.1;

type Logits = Compiled<any, any>;

/**
 * A generation prompt of about `length` characters from `text`, a slice cut from the middle of a book:
 * it starts after the first whitespace (so not mid-word) and ends just after the last whitespace within
 * `length` (so the model starts a fresh word), where the text has whitespace to cut at.
 */
export function wordPrompt(text: string, length: number): string {
  const firstBreak = text.search(/\s\S/);
  const from = firstBreak >= 0 && firstBreak < length ? firstBreak + 1 : 0;
  const s = text.slice(from, from + length);
  const lastBreak = s.search(/\s\S*$/);
  return lastBreak > length / 2 ? s.slice(0, lastBreak + 1) : s;
}

function compileLogits(model: TrainableModel, backend: Backend<any>, ctx: number): E.Either<string, Logits> {
  const ids = spec([dim("b", 1), dim("t", ctx)], "int32");
  const c = compile((p: unknown, x: Tensor) => model.logits(p, x), {
    args: [model.layout.specs, ids] as const,
    backend,
  });
  return E.isLeft(c) ? E.left(c.left.message) : E.right(c.right);
}

export class Session {
  private step = 0;

  private constructor(
    readonly model: TrainableModel,
    readonly options: SessionOptions,
    private readonly state: TrainState,
    /** The plan of a training step (the first step's: a scheme may change which params it updates). */
    readonly plan: Plan,
    private readonly logits: Logits,
    private readonly sampler: BatchSampler,
    private readonly valBatches: readonly Batch[],
    /** The start of the validation text at a word boundary, the sampler's default prompt. */
    readonly prompt: string,
  ) {}

  /** The names of the training step's graph inputs, in order (for the plan panel: params by their path). */
  get inputNames(): string[] {
    return updateStepInputNames(this.model, { frozen: frozenMask(this.model) });
  }

  /** What the method does around AdamW, if anything (e.g. "merge every 200 steps"). */
  describeScheme(): string | undefined {
    return this.state.scheme?.describe();
  }

  /** Frees the session's buffers on the backend. */
  dispose(): void {
    this.state.dispose();
  }

  /** Builds the model, compiles its training, evaluation and sampling functions, and splits the text. */
  static create(backend: Backend<any>, text: string, o: SessionOptions): E.Either<string, Session> {
    const cfg = playgroundConfig(o.preset, o.rank);
    if (E.isLeft(cfg)) return cfg;
    const model = makeModel(o.method, cfg.right);
    if (E.isLeft(model)) return E.left(model.left.message);
    if (!(Number.isInteger(o.steps) && o.steps > 0)) return E.left(`steps must be a positive integer, got ${o.steps}`);
    if (!(o.lr > 0 && o.lr < 1)) return E.left(`the learning rate must be in (0, 1), got ${o.lr}`);
    const { batch, seq } = cfg.right;
    const tokens = byteTokenizer.encode(text);
    const cut = Math.floor(tokens.length * (1 - VAL_FRACTION));
    const [train, val] = [tokens.subarray(0, cut), tokens.subarray(cut)];
    const need = Math.ceil((batch * seq + 1) / VAL_FRACTION);
    if (val.length < batch * seq + 1)
      return E.left(
        `the text has ${tokens.length} bytes; preset ${o.preset} needs at least ${need} (its last tenth validates on batches of ${batch}×${seq})`,
      );
    const sampler = BatchSampler.create(train, { seqLen: seq, batch, seed: o.seed });
    if (E.isLeft(sampler)) return E.left(sampler.left.message);
    const valBatches = evalWindows(val, seq, batch, o.evalBatches);
    if (E.isLeft(valBatches)) return E.left(valBatches.left.message);
    const logits = compileLogits(model.right, backend, Math.min(o.sampleContext, seq));
    if (E.isLeft(logits)) return logits;
    const state = TrainState.create(
      model.right,
      backend,
      {
        ...UPDATE_DEFAULTS,
        lr: o.lr,
        warmupSteps: defaultWarmupSteps(o.steps),
        batch,
        seq,
        totalSteps: o.steps,
        seed: o.seed,
      },
      { params: model.right.init(o.seed) },
    );
    if (E.isLeft(state)) return E.left(state.left.message);
    const plan = state.right.planAt(0);
    if (E.isLeft(plan)) return (state.right.dispose(), E.left(plan.left.message));
    const prompt = wordPrompt(byteTokenizer.decode(val.subarray(0, 256)), 32);
    return E.right(
      new Session(model.right, o, state.right, plan.right.plan, logits.right, sampler.right, valBatches.right, prompt),
    );
  }

  get stepsDone(): number {
    return this.step;
  }
  get done(): boolean {
    return this.step >= this.options.steps;
  }

  /** One optimizer step on the next batch; a non-finite loss, norm or update is a readable Left (the lr is too high). */
  async trainOne(): Promise<E.Either<string, StepReport>> {
    const t0 = performance.now();
    const b = this.sampler.next();
    const r = await this.state.step(this.step, b.inputs, b.targets);
    if (E.isLeft(r)) return E.left(r.left.message);
    const { loss, stats, lr, gradNorm, transfers, nonFinite } = r.right;
    // the update was not applied: the state is as it was after the last step
    if (nonFinite) return E.left(`${divergedAt(this.step + 1, nonFinite)} (try a lower learning rate)`);
    this.step++;
    return E.right({
      step: this.step,
      loss,
      lr,
      gradNorm,
      ms: performance.now() - t0,
      tokens: b.inputs.length,
      peakBytes: stats.peakBytes,
      bytesIn: transfers.written,
      bytesOut: transfers.read,
    });
  }

  /** Mean loss over the fixed validation batches. */
  async validate(): Promise<E.Either<string, number>> {
    const r = await evaluate((x, y) => this.state.evalLoss(x, y), this.valBatches, 1);
    return E.isLeft(r) ? E.left(r.left.message) : E.right(r.right.loss);
  }

  /**
   * `count` bytes generated after `prompt`: greedy at temperature 0, else sampled from softmax(logits/T)
   * with a seeded generator. Attention is causal, so the context sits left-aligned in the window and the
   * padding after it cannot change the logits read at its last position.
   */
  async sample(prompt: string, count: number, temperature: number, seed: number): Promise<E.Either<string, string>> {
    const ctx = Math.min(this.options.sampleContext, this.model.config.seq);
    const vocab = this.model.config.vocab;
    const rng = Rng.fromSeed(seed);
    const ids = Array.from(byteTokenizer.encode(prompt));
    const start = ids.length;
    const window = new Int32Array(ctx);
    for (let i = 0; i < count; i++) {
      const context = ids.slice(-ctx);
      window.fill(0);
      window.set(context);
      const [out] = await this.state.runOnParams(this.logits, [{ shape: [1, ctx], dtype: "int32", data: window }]);
      const row = (out as Float32Array).subarray((context.length - 1) * vocab, context.length * vocab);
      ids.push(pick(row, temperature, rng));
    }
    return E.right(byteTokenizer.decode(ids.slice(start)));
  }

  /** The weights as safetensors, named by their rankfuse paths, with the model config in the metadata. */
  async weights(): Promise<Uint8Array> {
    const { layout, config, method } = this.model;
    const params = await this.state.readParams();
    const tensors = Object.fromEntries(
      layout.names.map((n, i) => [n, { dtype: "F32" as const, shape: [...layout.shapes[i]!], data: params[i]! }]),
    );
    return encodeSafetensors(tensors, {
      format: "rankfuse",
      method,
      config: JSON.stringify(config),
      step: String(this.step),
    });
  }
}

/** Argmax at temperature 0; otherwise a draw from softmax(row / temperature). */
export function pick(row: Float32Array, temperature: number, rng: Rng): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
  if (!(temperature > 0)) return best;
  const w = Array.from(row, (x) => Math.exp((x - row[best]!) / temperature));
  let u = rng.nextFloat() * w.reduce((a, b) => a + b, 0);
  for (let j = 0; j < w.length; j++) if ((u -= w[j]!) < 0) return j;
  return best;
}
