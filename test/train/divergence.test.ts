import * as E from "fp-ts/lib/Either.js";
import { describe, expect, it } from "vitest";
import * as op from "../../dsl/ops.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { loadBackend } from "../../backends/index.ts";
import { loadCheckpoint } from "../../train/checkpoint.ts";
import { train, type TrainData } from "../../train/loop.ts";
import type { TokenData } from "../../train/tokenSource.ts";
import type { TrainableModel } from "../../train/scheme.ts";
import { TrainState } from "../../train/trainState.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { Rng } from "../../util/rng.ts";
import { batches, stateOptions, tinyModel, TINY } from "../helpers/trainStateCases.ts";
import { bits, quiet, tinyRun } from "./tinyRun.ts";
import { tempDir } from "./tempDir.ts";

/**
 * Divergence on the training state and in the loop. A model whose loss is −∞ on any batch holding a
 * marked token (its loss plus log(1 − [marked token present]): + 0 otherwise, so the other batches train
 * exactly as the plain model) makes non-finite steps where a test wants them, on wasm (always loads).
 */
const wasm = unwrap(await loadBackend("wasm"));
const MARK = TINY.vocab - 1;

function poisoned(model: TrainableModel): TrainableModel {
  return {
    ...model,
    loss: (p: unknown, x: Tensor, y: Tensor) => {
      const present = op.max(op.equal(op.cast(x, "float32"), MARK));
      return op.add(model.loss(p, x, y), op.log(op.rsub(1, present)));
    },
  };
}

const marked = (ids: Int32Array) => ids.map((t, i) => (i === 3 ? MARK : t === MARK ? 0 : t));
const unmarked = (data: TokenData) => {
  const ids = data instanceof Int32Array ? data : new Int32Array(data.length);
  if (!(data instanceof Int32Array)) data.read(0, data.length, ids, 0);
  return ids.map((t) => (t === MARK ? 0 : t));
};
const allBits = (xs: readonly Float32Array[]) => xs.map(bits);

describe("TrainState: a non-finite step", () => {
  it.each([true, false])(
    "is not applied: params, moments and the update count stay (rollback %s)",
    async (rollback) => {
      const model = poisoned(tinyModel("cola"));
      const state = unwrap(TrainState.create(model, wasm, { ...stateOptions(), rollback }, { params: model.init(3) }));
      const data = batches(3);
      unwrap(await state.step(0, unmarked(data[0]!.ids), data[0]!.targets));
      const before = await state.read();
      const r = unwrap(await state.step(1, marked(data[1]!.ids), data[1]!.targets));
      expect(r.nonFinite).toEqual({ what: "loss", value: -Infinity });
      if (!rollback) {
        // donated: the state cannot go on, and says so
        await expect(state.read()).rejects.toThrow(/unusable after a non-finite step/);
        state.dispose();
        return;
      }
      expect(state.updates).toBe(1);
      const after = await state.read();
      expect(allBits(after.params)).toEqual(allBits(before.params));
      expect(allBits(after.adam.m)).toEqual(allBits(before.adam.m));
      expect(allBits(after.adam.v)).toEqual(allBits(before.adam.v));
      expect(after.adam.step).toBe(1);
      // and the next good step is the one an uninterrupted state makes
      const good = unwrap(await state.step(1, unmarked(data[2]!.ids), data[2]!.targets));
      expect(good.nonFinite).toBeUndefined();
      const plain = unwrap(TrainState.create(model, wasm, stateOptions(), { params: model.init(3) }));
      unwrap(await plain.step(0, unmarked(data[0]!.ids), data[0]!.targets));
      unwrap(await plain.step(1, unmarked(data[2]!.ids), data[2]!.targets));
      expect(allBits((await state.read()).params)).toEqual(allBits((await plain.read()).params));
      state.dispose();
      plain.dispose();
    },
  );

  it("reports an update that overflows the params (finite loss and norm) as non-finite params", async () => {
    const model = tinyModel("full");
    const o = { ...stateOptions(), lr: 1e39, warmupSteps: 0 };
    const state = unwrap(TrainState.create(model, wasm, o, { params: model.init(3) }));
    const before = await state.readParams();
    const data = batches(1);
    const r = unwrap(await state.step(0, data[0]!.ids, data[0]!.targets));
    expect(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm)).toBe(true);
    expect(r.nonFinite?.what).toBe("params");
    expect(allBits(await state.readParams())).toEqual(allBits(before));
    state.dispose();
  });
});

describe("train(): skipNonFinite", () => {
  // train text over the tiny vocab with the marked token every 70 tokens: some batches hold it
  const rng = Rng.fromSeed(11);
  const text = Int32Array.from({ length: 4096 }, (_, i) => (i % 70 === 5 ? MARK : rng.nextInt(MARK)));
  const t = tinyRun({
    d: TINY.d,
    heads: TINY.heads,
    layers: TINY.layers,
    dFF: TINY.dFF,
    rank: TINY.rank,
    vocab: TINY.vocab,
    seq: TINY.seq,
    batch: TINY.batch,
  });
  const data: TrainData = { train: text, val: unmarked(t.data.val), bytesPerToken: 1 };
  const model = poisoned(tinyModel("cola"));
  const logs = () => {
    const lines: string[] = [];
    return { lines, progress: { ...quiet(), log: (l: string) => void lines.push(l) } };
  };

  it("skips bad batches (a line each, the state unchanged), resumes with the count, and stops past it", async () => {
    const steps = 12;
    const a = logs();
    const whole = await train(model, wasm, data, t.options({ steps, skipNonFinite: 100, progress: a.progress }));
    const skips = a.lines.filter((l) => l.startsWith("skipped a batch"));
    expect(skips.length).toBeGreaterThanOrEqual(2);
    expect(skips[0]).toMatch(
      /^skipped a batch at step \d+: the loss is -Infinity: the state is unchanged \(1 of skipNonFinite 100\)$/,
    );
    const res = unwrap(whole);
    expect(res.steps).toBe(steps);
    expect(res.losses.every((l) => Number.isFinite(l.loss))).toBe(true);

    // stopped after a few steps (past a skip), checkpointed, resumed: the same run, the count carried
    const dir = tempDir();
    const stop = new AbortController();
    const first = await train(model, wasm, data, {
      ...t.options({ steps, skipNonFinite: 100, outDir: dir }),
      signal: stop.signal,
      progress: quiet((s) => s === 8 && stop.abort()),
    });
    expect(unwrap(first).stopped).toBe(true);
    const ck = unwrap(loadCheckpoint(dir));
    const skippedThen = (ck.extra as { skippedBatches: number }).skippedBatches;
    expect(skippedThen).toBeGreaterThan(0);
    const b = logs();
    const resumed = unwrap(
      await train(
        model,
        wasm,
        data,
        t.options({ steps, skipNonFinite: 100, outDir: dir, resume: true, progress: b.progress }),
      ),
    );
    expect(b.lines.filter((l) => l.startsWith("skipped a batch")).length).toBe(skips.length - skippedThen);
    expect(resumed.losses.map((l) => l.loss)).toEqual(res.losses.map((l) => l.loss));

    // a budget smaller than the bad batches: skips it, then stops at the next with the divergence
    const c = logs();
    const short = await train(model, wasm, data, t.options({ steps, skipNonFinite: 1, progress: c.progress }));
    expect(E.isLeft(short) && short.left.tag).toBe("DivergenceError");
    expect(E.isLeft(short) && short.left.message).toMatch(
      /^training diverged at step \d+: the loss is -Infinity, nothing of it was applied; try a lower lr \(now 0\.01\) or a smaller clip \(now 1\)$/,
    );
    expect(c.lines.filter((l) => l.startsWith("skipped a batch"))).toHaveLength(1);
  });
});
