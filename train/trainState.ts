/**
 * The training state on the backend: params, AdamW's moments and the step count stay in the backend's
 * buffers between steps, and one step is one run of the whole-step plan (train/updateStep.ts), which
 * takes the state's buffers (lent, or donated without `rollback`), and keeps the new ones on the backend.
 * Per step only the batch's ids and three scalars go in and the loss, the gradient norm and a check of the
 * updated params come out; the host sees the rest only when it asks (checkpoints, exports) or where a
 * scheme's hook needs it (scheme.ts). A step whose loss, norm or updated params are not finite is not
 * applied (`StepReport.nonFinite`).
 * This is the one update step of every face: the CLI's loop, the playground, the benchmarks.
 */
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import type { Backend, HostTensor } from "../ir/backend.ts";
import type { RankfuseError } from "../ir/errors.ts";
import { compile, type Compiled } from "../run/compile.ts";
import type { RunInput, RunStats } from "../run/executor.ts";
import type { Tensor } from "../dsl/trace.ts";
import type { HostKernels } from "../ir/hostKernels.ts";
import { dim } from "../ir/dim.ts";
import { spec } from "../dsl/spec.ts";
import { AdamMoments, type AdamState } from "./adamMoments.ts";
import { elementCount } from "./params.ts";
import type { RunError } from "./errors.ts";
import { warmupCosine } from "./schedule.ts";
import type { HostNeed, SchemeContext, SchemeState, TrainableModel, TrainingScheme } from "./scheme.ts";
import { ADAM_DEFAULTS, updateStep, updateStepSpecs, type StepRoles } from "./updateStep.ts";
import type { UpdateOptions } from "./update.ts";
import { frozenMask } from "./step.ts";

/** What a training state is made for: the optimizer's settings, the batch shape and the run. */
export interface TrainStateOptions extends UpdateOptions {
  readonly batch: number;
  readonly seq: number;
  /** The run's length (the schedule's end, and the scheme's). */
  readonly totalSteps: number;
  /** The run's seed (the scheme's RNG streams). */
  readonly seed: number;
  /** Compiled host loops a scheme may use (Fira's GEMM). */
  readonly hostKernels?: HostKernels;
  /**
   * Keep the state as it was when a step turns out non-finite (default true): the step's params and
   * moments are lent to its plan, not donated, and the old buffers are freed only once the loss, the
   * gradient norm and the updated params are known to be finite. That holds one more copy of the
   * trainable params and both moments during the step's last kernels. With false they are donated, as a
   * caller that stops at the first non-finite step needs nothing more (the CLI without
   * --skip-nonfinite): memory stays as it was, and a non-finite step leaves the state unusable.
   */
  readonly rollback?: boolean;
}

/** Where a state starts: fresh params, or a checkpoint's params, moments and scheme state. */
export interface TrainStateStart {
  readonly params: readonly Float32Array[];
  readonly adam?: AdamState;
  readonly scheme?: SchemeState;
}

/** Bytes that crossed between the host and the backend. */
export interface Transfers {
  /** Host → backend. */
  readonly written: number;
  /** Backend → host. */
  readonly read: number;
}

/** What one step reports: the loss before the update, the pre-clip gradient norm, the lr it used. */
export interface StepReport {
  readonly loss: number;
  readonly gradNorm: number;
  readonly lr: number;
  readonly stats: RunStats;
  /** Everything this step moved, the scheme's hooks included. */
  readonly transfers: Transfers;
  /**
   * Set when the loss, the gradient norm or the updated params were not finite: the update was not
   * applied (the scheme's hooks did not run, `updates` did not count it). With `rollback` the state is
   * as it was before the step; without it the state is unusable (its buffers were donated).
   */
  readonly nonFinite?: NonFinite;
}

/** What made a step non-finite: the loss, the pre-clip gradient norm, or params the update overflowed. */
export interface NonFinite {
  readonly what: "loss" | "gradient norm" | "params";
  /** The loss or the norm (NaN or ±Infinity); NaN for params. */
  readonly value: number;
}

/** Which of a step's loss, gradient norm and params check (updateStep's `check`) is not finite, if any. */
export function nonFiniteOf(loss: number, gradNorm: number, check: number): NonFinite | undefined {
  if (!Number.isFinite(loss)) return { what: "loss", value: loss };
  if (!Number.isFinite(gradNorm)) return { what: "gradient norm", value: gradNorm };
  if (!Number.isFinite(check)) return { what: "params", value: NaN };
  return undefined;
}

/** The host copy of a state (checkpoints, exports, evaluation elsewhere). */
export interface HostState {
  readonly params: Float32Array[];
  readonly adam: AdamState;
}

type Buf = unknown;

const rolesKey = (r: StepRoles) => r.skip.map((s, i) => (s ? (r.hostGrad[i] ? "h" : "s") : "u")).join("");

/** A training run's params and optimizer state, living on a backend. */
export class TrainState {
  private readonly plans = new Map<string, Compiled<any, any>>();
  private disposed = false;
  /** Why the state is unusable: a non-finite step ran on donated buffers. */
  private broken: string | undefined;
  private total = { written: 0, read: 0 };
  private readonly lrAt: (step: number) => number;
  private readonly frozen: readonly boolean[];
  private readonly trainable: readonly number[];
  private readonly shapes: readonly (readonly number[])[];

  private constructor(
    readonly model: TrainableModel,
    readonly backend: Backend<Buf>,
    private readonly o: TrainStateOptions,
    readonly scheme: TrainingScheme | undefined,
    private readonly evalPlan: Compiled<any, any>,
    private params: Buf[],
    /** Moments of the trainable params (undefined for the model's frozen ones). */
    private m: (Buf | undefined)[],
    private v: (Buf | undefined)[],
    private t: number,
  ) {
    this.lrAt = warmupCosine({
      lr: o.lr,
      warmupSteps: Math.min(o.warmupSteps, o.totalSteps),
      totalSteps: o.totalSteps,
      minRatio: o.minLrRatio,
    });
    this.frozen = frozenMask(model);
    this.trainable = this.frozen.flatMap((f, i) => (f ? [] : [i]));
    this.shapes = model.layout.shapes;
  }

  /**
   * Writes the start state to the backend and compiles the evaluation plan (the step's plans compile
   * on first use, one per set of params a scheme leaves alone). A Left when the moments or the scheme
   * state do not fit the model, or the model does not compile here.
   */
  static create(
    model: TrainableModel,
    backend: Backend<any>,
    o: TrainStateOptions,
    start: TrainStateStart,
  ): E.Either<RunError, TrainState> {
    const shapes = model.layout.shapes;
    const moments = start.adam ? AdamMoments.restore(shapes, start.adam) : E.right(AdamMoments.zeros(shapes));
    if (E.isLeft(moments)) return moments;
    const scheme = model.scheme?.({
      seed: o.seed,
      totalSteps: o.totalSteps,
      layout: model.layout,
      hostKernels: o.hostKernels,
    });
    if (scheme && start.scheme) {
      const r = scheme.restore(start.scheme);
      if (E.isLeft(r))
        return E.left({
          tag: "CheckpointError",
          message: `cannot restore ${model.method}'s training scheme: ${r.left}`,
        });
    }
    const [b, t] = [dim("b", o.batch), dim("t", o.seq)];
    const evalPlan = compile((p: unknown, x: Tensor, y: Tensor) => model.loss(p, x, y), {
      args: [model.layout.specs, spec([b, t], "int32"), spec([b, t], "int32")] as const,
      backend,
    });
    if (E.isLeft(evalPlan)) return evalPlan;
    const frozen = frozenMask(model);
    let written = 0;
    const write = (a: Float32Array, shape: readonly number[]) => {
      written += a.byteLength;
      return backend.write({ shape, dtype: "float32", data: a });
    };
    const { m, v } = moments.right.views();
    const state = new TrainState(
      model,
      backend,
      o,
      scheme,
      evalPlan.right,
      start.params.map((p, i) => write(p, shapes[i]!)),
      m.map((a, i) => (frozen[i] ? undefined : write(a, shapes[i]!))),
      v.map((a, i) => (frozen[i] ? undefined : write(a, shapes[i]!))),
      moments.right.step,
    );
    state.total.written = written; // `transfers` counts the first write
    return E.right(state);
  }

  /** Updates made so far (AdamW's t). */
  get updates(): number {
    return this.t;
  }

  /** Bytes moved since the state was made, its first write included. */
  get transfers(): Transfers {
    return { ...this.total };
  }

  /** The learning rate of the update that makes step+1 (0-based `step`), the scheme's factor included. */
  lr(step: number): number {
    return this.lrAt(step) * (this.scheme?.lrFactor?.(step) ?? 1);
  }

  /** Params AdamW leaves alone at `step`: the model's frozen ones and those the scheme owns or freezes now. */
  skipped(step: number): boolean[] {
    const schemeFrozen = this.scheme?.frozen?.(step);
    return this.frozen.map((f, i) => f || !!schemeFrozen?.[i]);
  }

  private planFor(roles: StepRoles): E.Either<RankfuseError, Compiled<any, any>> {
    const key = rolesKey(roles);
    const have = this.plans.get(key);
    if (have) return E.right(have);
    const c = { ...ADAM_DEFAULTS, clip: this.o.clip };
    return pipe(
      compile(updateStep(this.model, roles, c), {
        args: updateStepSpecs(this.model, roles, this.o.batch, this.o.seq),
        backend: this.backend,
        remat: this.model.remat,
      }),
      E.map((compiled) => (this.plans.set(key, compiled), compiled)),
    );
  }

  /** The whole-step plan this state runs at `step` (for inspection and tests). */
  planAt(step: number): E.Either<RankfuseError, Compiled<any, any>> {
    return this.planFor(this.rolesAt(step));
  }

  private rolesAt(step: number): StepRoles {
    const skip = this.skipped(step);
    const hostGrad = skip.map((s, i) => !!this.scheme?.update && s && !this.frozen[i]);
    return { frozen: this.frozen, skip, hostGrad };
  }

  private async readBuf(b: Buf): Promise<Float32Array> {
    const a = await this.backend.read(b);
    this.total.read += a.byteLength;
    return a instanceof Float32Array ? (a as Float32Array<ArrayBuffer>) : Float32Array.from(a);
  }

  private writeBuf(a: Float32Array, i: number): Buf {
    this.total.written += a.byteLength;
    return this.backend.write({ shape: this.shapes[i]!, dtype: "float32", data: a });
  }

  private replace(list: Buf[] | (Buf | undefined)[], i: number, a: Float32Array) {
    const old = list[i];
    list[i] = this.writeBuf(a, i);
    if (old !== undefined) this.backend.free(old);
  }

  /**
   * One training step (0-based `step`) on a batch: gradients, clipping and AdamW on the backend, then the
   * scheme's host hooks where it has them. The state is unusable after a Left (its buffers may have
   * been donated to the failed run). A non-finite loss, gradient norm or updated params is a Right with
   * `nonFinite` set and the update not applied (see `rollback`).
   */
  async step(step: number, ids: Int32Array, targets: Int32Array): Promise<E.Either<RunError, StepReport>> {
    this.usable("step");
    const before = { ...this.total };
    const roles = this.rolesAt(step);
    const planned = this.planFor(roles);
    if (E.isLeft(planned)) return planned;
    const lr = this.lr(step);
    const { scheme } = this;
    // a scheme's update sees the params as they were before the step (it runs before AdamW in the math)
    const hostParams = scheme?.update ? await Promise.all(this.params.map((p) => this.readBuf(p))) : undefined;
    this.t += 1;
    const { beta1, beta2 } = ADAM_DEFAULTS;
    const scalar = (x: number) => ({ shape: [], dtype: "float32" as const, data: Float32Array.of(x) });
    const updated = (i: number) => !roles.skip[i];
    const rollback = this.o.rollback ?? true;
    const donate = (i: number) => updated(i) && !rollback;
    const inputs: RunInput<Buf>[] = [
      ...this.trainable.map((i) => ({ resident: this.params[i], donate: donate(i) })),
      ...this.frozen.flatMap((f, i) => (f ? [{ resident: this.params[i] }] : [])),
      ...this.trainable.map((i) => ({ resident: this.m[i], donate: donate(i) })),
      ...this.trainable.map((i) => ({ resident: this.v[i], donate: donate(i) })),
      scalar(1 - lr * this.o.weightDecay),
      scalar(lr / (1 - beta1 ** this.t)),
      scalar(Math.sqrt(1 - beta2 ** this.t)),
      { shape: [this.o.batch, this.o.seq], dtype: "int32", data: ids },
      { shape: [this.o.batch, this.o.seq], dtype: "int32", data: targets },
    ];
    const upd = this.trainable.filter(updated);
    const nHost = this.trainable.filter((i) => roles.hostGrad[i]).length;
    const keep = [false, false, ...upd.flatMap(() => [true, true, true]), ...new Array<boolean>(nHost + 1).fill(false)];
    const run = await planned.right.executor.runOn(inputs, keep);
    const [loss, norm, ...rest] = run.outputs;
    const n = upd.length;
    this.total.written += run.stats.bytesWritten;
    this.total.read += run.stats.bytesRead;
    const report = {
      loss: (loss as Float32Array)[0]!,
      gradNorm: (norm as Float32Array)[0]!,
      lr,
      stats: run.stats,
    };
    const bad = nonFiniteOf(report.loss, report.gradNorm, (rest[rest.length - 1] as Float32Array)[0]!);
    const fresh = rest.slice(0, 3 * n);
    const old = upd.flatMap((i) => [this.params[i], this.m[i], this.v[i]]);
    if (bad) {
      // the update is not applied: drop what it made; the old buffers are still ours unless donated
      this.t -= 1;
      for (const b of fresh) if (!old.includes(b)) this.backend.free(b);
      if (!rollback) {
        this.broken = `a non-finite step (its ${bad.what}) ran on donated buffers`;
        // the run freed the donated buffers: dispose must not free them again
        upd.forEach((i) => ([this.params[i], this.m[i], this.v[i]] = [undefined, undefined, undefined]));
      }
      const transfers = { written: this.total.written - before.written, read: this.total.read - before.read };
      return E.right({ ...report, transfers, nonFinite: bad });
    }
    if (rollback) for (const b of old) if (b !== undefined && !fresh.includes(b)) this.backend.free(b);
    upd.forEach((i, k) => {
      this.params[i] = rest[k];
      this.m[i] = rest[n + k];
      this.v[i] = rest[2 * n + k];
    });
    if (this.backend.caps.float64) await this.roundToFloat32(upd);
    if (scheme?.update && hostParams) {
      const grads: Float32Array[] = this.shapes.map(() => new Float32Array(0));
      const hostGrads = rest.slice(3 * n, rest.length - 1) as Float32Array[];
      this.trainable.filter((i) => roles.hostGrad[i]).forEach((i, k) => (grads[i] = hostGrads[k]!));
      const ctx = { step, totalSteps: this.o.totalSteps, params: hostParams, layout: this.model.layout };
      scheme.update(ctx, grads, lr);
      this.trainable.filter((i) => roles.hostGrad[i]).forEach((i) => this.replace(this.params, i, hostParams[i]!));
    }
    if (scheme?.afterStep) await this.afterStep(scheme, step);
    return E.right({
      ...report,
      transfers: { written: this.total.written - before.written, read: this.total.read - before.read },
    });
  }

  private usable(what: string) {
    if (this.disposed) throw new Error(`TrainState.${what}: the state was disposed`);
    if (this.broken) throw new Error(`TrainState.${what}: the state is unusable after ${this.broken}`);
  }

  /**
   * A float64 backend (the reference) computes the float32 step in float64 and would keep that precision
   * between steps; rounding the state to float32, as a float32 backend holds it and a checkpoint saves
   * it, makes a resumed run equal an uninterrupted one there too. Not counted in `transfers`: a float32
   * backend has nothing to round.
   */
  private async roundToFloat32(indices: readonly number[]) {
    for (const list of [this.params, this.m, this.v])
      for (const i of indices) {
        const old = list[i];
        const data = Float32Array.from(await this.backend.read(old));
        list[i] = this.backend.write({ shape: this.shapes[i]!, dtype: "float32", data });
        this.backend.free(old);
      }
  }

  private async afterStep(scheme: TrainingScheme, step: number) {
    const need: HostNeed = scheme.hostAfterStep?.(step) ?? "all";
    if (need === "none") return;
    if (need === "all") {
      const host = await this.read();
      const adam = AdamMoments.restore(this.shapes, host.adam);
      if (E.isLeft(adam)) throw new Error(`TrainState: ${adam.left.message}`); // the state's own moments fit
      const ctx: SchemeContext = {
        step,
        totalSteps: this.o.totalSteps,
        params: host.params,
        adam: adam.right,
        layout: this.model.layout,
      };
      scheme.afterStep!(ctx);
      const { m, v } = adam.right.views();
      host.params.forEach((p, i) => this.replace(this.params, i, p));
      this.trainable.forEach((i) => (this.replace(this.m, i, m[i]!), this.replace(this.v, i, v[i]!)));
      return;
    }
    const writes = new Set(need.writes);
    const params = this.shapes.map((s, i) => new Float32Array(writes.has(i) ? elementCount(s) : 0));
    const unused = AdamMoments.zeros([]);
    scheme.afterStep!({ step, totalSteps: this.o.totalSteps, params, adam: unused, layout: this.model.layout });
    for (const i of writes) this.replace(this.params, i, params[i]!);
  }

  /** The mean loss of one batch under the current params (no update). */
  async evalLoss(ids: Int32Array, targets: Int32Array): Promise<E.Either<RunError, number>> {
    this.usable("evalLoss");
    const batch = (data: Int32Array) => ({ shape: [this.o.batch, this.o.seq], dtype: "int32" as const, data });
    const [loss] = await this.runOnParams(this.evalPlan, [batch(ids), batch(targets)]);
    return E.right(loss![0]!);
  }

  /**
   * Runs a compiled function whose first inputs are the model's params (its `layout.specs`, e.g. the
   * logits) on the state's params, which stay where they are; only `rest` and the outputs cross.
   */
  async runOnParams(
    c: Compiled<any, any>,
    rest: readonly HostTensor[],
  ): Promise<(Float32Array | Float64Array | Int32Array)[]> {
    const inputs: RunInput<Buf>[] = [...this.params.map((p) => ({ resident: p })), ...rest];
    const r = await c.executor.runOn(inputs, []);
    this.total.written += r.stats.bytesWritten;
    this.total.read += r.stats.bytesRead;
    return r.outputs as (Float32Array | Float64Array | Int32Array)[];
  }

  /** Reads params and moments back to the host (a checkpoint, an export). */
  async read(): Promise<HostState> {
    this.usable("read");
    const params = await Promise.all(this.params.map((p) => this.readBuf(p)));
    const zeros = (i: number) => new Float32Array(elementCount(this.shapes[i]!));
    const m = await Promise.all(this.m.map((b, i) => (b === undefined ? zeros(i) : this.readBuf(b))));
    const v = await Promise.all(this.v.map((b, i) => (b === undefined ? zeros(i) : this.readBuf(b))));
    return { params, adam: { step: this.t, m, v } };
  }

  /** Reads only the params back. */
  async readParams(): Promise<Float32Array[]> {
    this.usable("readParams");
    return Promise.all(this.params.map((p) => this.readBuf(p)));
  }

  /** Frees every buffer of the state; it cannot step afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of [...this.params, ...this.m, ...this.v]) if (b !== undefined) this.backend.free(b);
  }
}
