import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  AllcloseError,
  allclose,
  allcloseReport,
  allcloseViolation,
  assertAllclose,
  expectAllclose,
} from "../../testing/allclose.ts";

describe("allclose", () => {
  it("is |a - b| <= atol + rtol * |b| elementwise", () => {
    expect(allclose([1, 2], [1.0005, 2], { rtol: 1e-3, atol: 0 })).toBe(true);
    expect(allclose([1, 2], [1.01, 2], { rtol: 1e-3, atol: 0 })).toBe(false);
    expect(allclose([0], [1e-5], { rtol: 0, atol: 1e-4 })).toBe(true);
  });

  it("calls equal infinities close, NaN close only to NaN with equalNan, and a length mismatch never", () => {
    expect(allclose([Infinity, -Infinity], [Infinity, -Infinity])).toBe(true);
    expect(allclose([Infinity], [1e300])).toBe(false);
    expect(allclose([NaN], [NaN])).toBe(false);
    expect(allclose([NaN, 1], [NaN, 1], { equalNan: true })).toBe(true);
    expect(allclose([NaN], [1], { equalNan: true })).toBe(false);
    expect(allcloseViolation([1, 2], [1])).toBe("not close: lengths differ: 2 vs 1 (actual vs expected)");
  });

  it("agrees with the definition on random arrays", () => {
    const arr = fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(arr, arr, fc.double({ min: 0, max: 1, noNaN: true }), (a, b, rtol) => {
        const n = Math.min(a.length, b.length);
        const [x, y] = [a.slice(0, n), b.slice(0, n)];
        const want = x.every((v, i) => Math.abs(v - y[i]!) <= 1e-3 + rtol * Math.abs(y[i]!));
        expect(allclose(x, y, { rtol, atol: 1e-3 })).toBe(want);
      }),
    );
  });

  it("reports the worst element, both values, abs and rel error, and how many elements differ", () => {
    expect(() => assertAllclose([1, 5, 3], [1, 2, 3.1], { what: "grad A" })).toThrow(
      "grad A: not close: 2 of 3 elements exceed atol 1e-4 + rtol 0.001·|expected|; worst at 1: actual 5, expected 2 (abs error 3, rel error 1.5, allowed 0.0021)",
    );
    expect(() => expectAllclose(new Float32Array([1, 2]), [1, 2])).not.toThrow();
    const r = allcloseReport([1, 5, 3], [1, 2, 3.1])!;
    expect(r.mismatches).toEqual([
      expect.objectContaining({
        kind: "values",
        index: 1,
        actual: 5,
        expected: 2,
        absError: 3,
        relError: 1.5,
        violations: 2,
        total: 3,
      }),
    ]);
  });

  it("names the multi-index where the shape is known, and refuses different shapes of one length", () => {
    const a = { data: [0, 0, 0, 0, 0, 7], shape: [2, 3] };
    expect(allcloseViolation(a, { data: new Float64Array(6), shape: [2, 3] })).toMatch(
      /worst at \[1, 2\] \(flat 5\): actual 7, expected 0/,
    );
    expect(allcloseViolation(a, { data: a.data, shape: [3, 2] })).toBe(
      "not close: shapes differ: [2, 3] vs [3, 2] (actual vs expected)",
    );
  });

  it("compares trees leaf by leaf, naming each leaf that differs, and refuses different structures", () => {
    const got = { out: [1, 2], grads: { A: new Float32Array([1, 2]), B: [3] } };
    const want = { out: [1, 2], grads: { A: new Float32Array([1, 2.5]), B: [4] } };
    let err: unknown;
    try {
      expectAllclose(got, want, { what: "layer" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AllcloseError);
    expect((err as AllcloseError).report.mismatches.map((m) => m.path)).toEqual(["grads.A", "grads.B"]);
    expect((err as Error).message.split("\n")).toEqual([
      "layer: not close in 2 of 3 leaves (tolerance atol 1e-4 + rtol 0.001·|expected|):",
      "  grads.A: 1 of 2 elements out of tolerance; worst at 1: actual 2, expected 2.5 (abs error 0.5, rel error 0.2, allowed 0.0026)",
      "  grads.B: 1 of 1 elements out of tolerance; worst at 0: actual 3, expected 4 (abs error 1, rel error 0.25, allowed 0.0041)",
    ]);
    expect(allcloseViolation({ A: [1] }, { B: [1] })).toBe(
      "not close: different structure: leaves (A) vs (B) (actual vs expected)",
    );
    expect(() => allclose({ A: "x" }, { A: [1] })).toThrow("expected numbers or arrays of numbers at A, got string");
  });
});
