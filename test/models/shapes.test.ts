import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import { compile } from "../../run/compile.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";
import { resolveConfig, type ConfigOverrides, type ModelConfig } from "../../models/config.ts";
import { type LanguageModel } from "../../models/model.ts";
import { METHODS, makeModel } from "../../methods/index.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";

const backend = referenceBackend();
const TINY = { d: 16, heads: 2, layers: 2, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 } as const;
const cfg: ModelConfig = unwrap(resolveConfig("tiny", TINY));
const modelOf = (method: string, c: ModelConfig = cfg): LanguageModel => unwrap(makeModel(method, c));
const f64 = (ps: readonly Float32Array[]) => ps.map((p) => Float64Array.from(p));

const ids = (rng: Rng, n: number, vocab: number) => Int32Array.from({ length: n }, () => rng.nextInt(vocab));

describe("model shapes on a tiny config", () => {
  it.each(METHODS)(
    "%s: logits traced with compile are [b, t, vocab], and the run returns b·t·vocab finite values",
    async (method) => {
      const m = modelOf(method);
      const [b, t] = [dim("b", cfg.batch), dim("t", cfg.seq)];
      const c = unwrap(
        compile((p: unknown, x: Tensor) => m.logits(p, x), {
          args: [m.layout.specs, spec([b, t], "int32")] as const,
          backend,
        }),
      );
      const out = c.graph.outputs;
      expect(out).toHaveLength(1);
      expect(out[0]!.abs.dims.map((d) => d.size)).toEqual([cfg.batch, cfg.seq, cfg.vocab]);
      expect(out[0]!.abs.dtype).toBe("float32");
      const r = unwrap(
        await c.run(f64(m.init(1)) as never, ids(Rng.fromSeed(2), cfg.batch * cfg.seq, cfg.vocab) as never),
      );
      const logits = r.out as unknown as Float64Array;
      expect(logits.length).toBe(cfg.batch * cfg.seq * cfg.vocab);
      expect(logits.every(Number.isFinite)).toBe(true);
    },
  );

  it("unbound batch and sequence dims take their sizes from compile's dims option", () => {
    const m = modelOf("cola");
    const c = unwrap(
      compile((p: unknown, x: Tensor) => m.logits(p, x), {
        args: [m.layout.specs, spec([dim("b"), dim("t")], "int32")] as const,
        backend,
        dims: { b: 3, t: 5 },
      }),
    );
    expect(c.graph.outputs[0]!.abs.dims.map((d) => d.size)).toEqual([3, 5, cfg.vocab]);
  });

  /** The shape of every param, as the architecture implies (x·W convention: W is [in, out]). */
  const expectedShapes = (method: "full" | "cola", c: ModelConfig): Record<string, number[]> => {
    const { d, dFF: f, vocab: V, rank: r } = c;
    const proj = (name: string, i: number, o: number): [string, number[]][] =>
      method === "full"
        ? [[name, [i, o]]]
        : [
            [`${name}.A`, [i, r]],
            [`${name}.B`, [r, o]],
          ];
    const block = (l: number): [string, number[]][] =>
      [
        ["attnNorm", [d]] as [string, number[]],
        ...proj("q", d, d),
        ...proj("k", d, d),
        ...proj("v", d, d),
        ...proj("o", d, d),
        ["mlpNorm", [d]] as [string, number[]],
        ...proj("gate", d, f),
        ...proj("up", d, f),
        ...proj("down", f, d),
      ].map(([n, s]) => [`blocks.${l}.${n}`, s]);
    return Object.fromEntries([
      ["embed", [V, d]],
      ...Array.from({ length: c.layers }, (_, l) => block(l)).flat(),
      ["finalNorm", [d]],
      ["head", [d, V]],
    ]);
  };

  it.each(["full", "cola"] as const)("%s: every declared param has the shape the architecture implies", (method) => {
    const m = modelOf(method);
    const got = Object.fromEntries(m.layout.names.map((n, i) => [n, m.layout.shapes[i]]));
    expect(got).toEqual(expectedShapes(method, cfg));
    expect(new Set(m.layout.names).size).toBe(m.layout.names.length);
    // spot checks named in the design
    expect(got["embed"]).toEqual([cfg.vocab, cfg.d]);
    expect(got["head"]).toEqual([cfg.d, cfg.vocab]);
    if (method === "cola") expect(got["blocks.0.q.A"]).toEqual([cfg.d, cfg.rank]);
    else expect(got["blocks.0.gate"]).toEqual([cfg.d, cfg.dFF]);
    // init allocates exactly these sizes; norm gains start at 1
    const init = m.init(0);
    expect(init.map((a) => a.length)).toEqual(m.layout.shapes.map((s) => s.reduce((a, b) => a * b, 1)));
    m.layout.names.forEach((n, i) => {
      if (/Norm$/.test(n)) expect(init[i]!.every((x) => x === 1)).toBe(true);
    });
  });

  it.each(METHODS)("%s: the initial loss on random tokens is close to ln(vocab)", async (method) => {
    const m = modelOf(method);
    const [b, t] = [dim("b", cfg.batch), dim("t", cfg.seq)];
    const c = unwrap(
      compile((p: unknown, x: Tensor, y: Tensor) => m.loss(p, x, y), {
        args: [m.layout.specs, spec([b, t], "int32"), spec([b, t], "int32")] as const,
        backend,
      }),
    );
    expect(c.graph.outputs[0]!.abs.dims).toEqual([]);
    for (const seed of [0, 1, 2]) {
      const rng = Rng.fromSeed(100 + seed);
      const n = cfg.batch * cfg.seq;
      const loss = (
        unwrap(
          await c.run(f64(m.init(seed)) as never, ids(rng, n, cfg.vocab) as never, ids(rng, n, cfg.vocab) as never),
        ).out as unknown as Float64Array
      )[0]!;
      expect(Math.abs(loss - Math.log(cfg.vocab))).toBeLessThan(0.5);
    }
  });

  it("makeModel of an unknown method is a Left naming the choices", () => {
    const r = makeModel("nope", cfg);
    expect(E.isLeft(r)).toBe(true);
    if (E.isLeft(r)) {
      expect(r.left.tag).toBe("ConfigError");
      expect(r.left.message).toContain('"nope"');
      for (const m of METHODS) expect(r.left.message).toContain(m);
    }
  });
});

describe("resolveConfig", () => {
  const message = (name: string, o: ConfigOverrides = {}): string => {
    const r = resolveConfig(name, o);
    if (E.isRight(r)) throw new Error(`resolveConfig(${name}, ${JSON.stringify(o)}) was accepted`);
    expect(r.left.tag).toBe("ConfigError");
    return r.left.message;
  };

  it("accepts the tiny test config with its overrides applied", () => {
    expect(cfg).toMatchObject(TINY);
    expect(cfg.name).toBe("tiny");
  });

  it("rejects heads that do not divide d", () => {
    expect(message("tiny", { ...TINY, heads: 3 })).toMatch(/heads \(3\) must divide d \(16\)/);
  });

  it("rejects an odd head width (RoPE rotates pairs)", () => {
    expect(message("tiny", { ...TINY, d: 12, heads: 4, rank: 4 })).toMatch(/head width .*= 3 must be even/);
    expect(message("tiny", { ...TINY, heads: 16 })).toMatch(/head width .*= 1 must be even/);
  });

  it("rejects a rank larger than d, and accepts rank = d", () => {
    expect(message("tiny", { ...TINY, rank: 17 })).toMatch(/rank 17 is larger than the width d = 16/);
    expect(E.isRight(resolveConfig("tiny", { ...TINY, rank: 16 }))).toBe(true);
  });

  it("rejects unknown names, listing the known ones", () => {
    const m = message("nope");
    expect(m).toMatch(/unknown config "nope"/);
    for (const n of ["60m", "130m", "350m", "1b", "7b", "tiny", "small"]) expect(m).toContain(n);
  });

  it("rejects non-positive or non-integer sizes, naming the field", () => {
    expect(message("tiny", { ...TINY, layers: 0 })).toMatch(/layers must be a positive integer, got 0/);
    expect(message("tiny", { ...TINY, dFF: 2.5 })).toMatch(/dFF must be a positive integer, got 2.5/);
  });
});
