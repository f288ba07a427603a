import { describe, expect, it } from "vitest";
import { AdamW } from "../../train/adamMoments.ts";
import { Rng } from "../../util/rng.ts";
import { nativeAddonRequirement } from "../helpers/requirements.ts";

const native = await nativeAddonRequirement();

/** The native optimizer loop is the JavaScript one compiled: bit-identical params and moments. */
describe("AdamW on the native engine", () => {
  it.skipIf(native.skip)("gives bit-identical params and moments to the JavaScript loop over several steps", () => {
    const kernel = native.get();
    const shapes = [[300, 70], [70], [1, 100001]];
    const rng = Rng.fromSeed(5);
    const init = shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()));
    const js = new AdamW(shapes, { weightDecay: 0.01 }),
      nat = new AdamW(shapes, { weightDecay: 0.01, kernel });
    const pj = init.map((a) => a.slice()),
      pn = init.map((a) => a.slice());
    for (let step = 0; step < 4; step++) {
      const grads = shapes.map((_, i) => Float32Array.from(init[i]!, () => rng.normal() * 0.1));
      js.step(
        pj,
        grads.map((g) => g.slice()),
        1e-3 * (step + 1),
      );
      nat.step(
        pn,
        grads.map((g) => g.slice()),
        1e-3 * (step + 1),
      );
    }
    pj.forEach((p, i) => expect(Buffer.from(pn[i]!.buffer).equals(Buffer.from(p.buffer))).toBe(true));
    const [sj, sn] = [js.state(), nat.state()];
    sj.m.forEach((m, i) => expect(Buffer.from(sn.m[i]!.buffer).equals(Buffer.from(m.buffer))).toBe(true));
    sj.v.forEach((v, i) => expect(Buffer.from(sn.v[i]!.buffer).equals(Buffer.from(v.buffer))).toBe(true));
    expect(pn[0]![0]).not.toBe(init[0]![0]);
  });
});
