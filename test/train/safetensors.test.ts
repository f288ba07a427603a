import { runs } from "../helpers/runs.ts";
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { decodeSafetensors, encodeSafetensors, type TensorInput } from "../../train/safetensors.ts";

const header = (json: string): Uint8Array => {
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
};
const withData = (head: Uint8Array, dataBytes: number): Uint8Array => {
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head);
  return out;
};
const errorOf = (bytes: Uint8Array): string => {
  const r = decodeSafetensors(bytes);
  if (E.isRight(r)) throw new Error("expected a Left");
  expect(r.left.tag).toBe("SafetensorsError");
  return r.left.message;
};
const bytesOf = (t: TensorInput) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

const tensorArb: fc.Arbitrary<TensorInput> = fc
  .tuple(fc.constantFrom("F32", "I32", "F64"), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      dtype === "F32"
        ? fc.float32Array({ minLength: n, maxLength: n })
        : dtype === "I32"
          ? fc.int32Array({ minLength: n, maxLength: n })
          : fc.float64Array({ minLength: n, maxLength: n });
    return (data as fc.Arbitrary<TensorInput["data"]>).map((d) => ({ dtype, shape, data: d }) as TensorInput);
  });

describe("safetensors", () => {
  it("encodes exactly the spec layout", () => {
    const bytes = encodeSafetensors({ a: { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) } });
    // 54 bytes of JSON + 2 spaces of padding = 56, a multiple of 8.
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
    const expected = withData(header(json), 8);
    new DataView(expected.buffer).setFloat32(8 + json.length, 1, true);
    new DataView(expected.buffer).setFloat32(12 + json.length, 2, true);
    expect([...bytes]).toEqual([...expected]);
  });

  it("sorts names, pads the header with spaces to 8 bytes, and puts metadata first", () => {
    const bytes = encodeSafetensors(
      {
        b: { dtype: "I32", shape: [1], data: Int32Array.of(7) },
        a: { dtype: "F64", shape: [], data: Float64Array.of(0.5) },
      },
      { step: "10", format: "pt" },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeGreaterThan(n - 8);
    expect(Object.keys(JSON.parse(text))).toEqual(["__metadata__", "a", "b"]);
    expect(JSON.parse(text).a.data_offsets).toEqual([0, 8]);
    const r = decodeSafetensors(bytes);
    expect(E.isRight(r) && r.right.metadata).toEqual({ format: "pt", step: "10" });
  });

  it("round-trips random tensors bit-exactly (NaN payloads, -0 included)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== "__metadata__"),
          tensorArb,
          { maxKeys: 5 },
        ),
        fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
        (tensors, metadata) => {
          const r = decodeSafetensors(encodeSafetensors(tensors, metadata));
          if (E.isLeft(r)) throw new Error(r.left.message);
          expect(Object.keys(r.right.tensors).sort()).toEqual(Object.keys(tensors).sort());
          for (const [name, t] of Object.entries(tensors)) {
            const got = r.right.tensors[name];
            expect(got.dtype).toBe(t.dtype);
            expect(got.shape).toEqual(t.shape);
            expect(got.data.constructor).toBe(t.data.constructor);
            expect([...bytesOf(got)]).toEqual([...bytesOf(t)]);
          }
          expect(r.right.metadata).toEqual(Object.keys(metadata).length > 0 ? { ...metadata } : {});
        },
      ),
      { numRuns: runs(200) },
    );
  });

  it("decodes from an unaligned view of a larger buffer", () => {
    const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [3], data: Float32Array.of(1, -2, 3.5) } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const r = decodeSafetensors(big.subarray(3));
    expect(E.isRight(r) && [...r.right.tensors.w.data]).toEqual([1, -2, 3.5]);
  });

  it("decodes from a small Node Buffer (which lives in a shared pool)", () => {
    const bytes = Buffer.from(encodeSafetensors({ w: { dtype: "I32", shape: [2], data: Int32Array.of(7, -9) } }));
    expect(bytes.byteOffset > 0 || bytes.buffer.byteLength > bytes.length).toBe(true);
    const r = decodeSafetensors(bytes);
    expect(E.isRight(r) && [...r.right.tensors.w.data]).toEqual([7, -9]);
  });

  it("refuses every truncation of a valid file", () => {
    const bytes = encodeSafetensors({ w: { dtype: "F64", shape: [2, 2], data: Float64Array.of(1, 2, 3, 4) } });
    for (let len = 0; len < bytes.length; len++) expect(E.isLeft(decodeSafetensors(bytes.subarray(0, len)))).toBe(true);
    expect(errorOf(bytes.subarray(0, 5))).toMatch(/too short/);
    expect(errorOf(bytes.subarray(0, 40))).toMatch(/header length \d+ exceeds/);
    expect(errorOf(bytes.subarray(0, bytes.length - 1))).toMatch(/exceed the \d+-byte data buffer/);
  });

  it("refuses bad headers with a message naming the problem", () => {
    const t = (entry: object, dataBytes: number) => errorOf(withData(header(JSON.stringify(entry)), dataBytes));
    expect(errorOf(withData(header("not json"), 0))).toMatch(/does not start with/);
    expect(errorOf(withData(header("{oops"), 0))).toMatch(/not valid UTF-8 JSON/);
    expect(errorOf(withData(header("[1]"), 0))).toMatch(/does not start with/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(errorOf(huge)).toMatch(/exceeds the 100000000-byte limit/);
    expect(t({ a: { dtype: "BF16", shape: [1], data_offsets: [0, 2] } }, 2)).toMatch(/unsupported dtype BF16/);
    expect(t({ a: { dtype: "X", shape: [1], data_offsets: [0, 4] } }, 4)).toMatch(/invalid dtype/);
    expect(t({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, 4)).toMatch(/shape/);
    expect(t({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 4)).toMatch(
      /4 bytes for dtype F32 shape \[2\] \(expected 8\)/,
    );
    expect(t({ a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, 4)).toMatch(/data_offsets/);
    expect(
      t(
        {
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
        },
        8,
      ),
    ).toMatch(/overlapping/);
    expect(t({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, 8)).toMatch(/gap/);
    expect(t({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, 8)).toMatch(/4 trailing bytes/);
    expect(t({ __metadata__: { a: 1 } }, 0)).toMatch(/__metadata__ must map strings to strings/);
    expect(t({ a: 5 }, 0)).toMatch(/not an object/);
  });

  it("throws (programmer error) on inconsistent encode input", () => {
    expect(() => encodeSafetensors({ a: { dtype: "F32", shape: [3], data: new Float32Array(2) } })).toThrow(/shape/);
    expect(() => encodeSafetensors({ a: { dtype: "I32", shape: [2], data: new Float32Array(2) } })).toThrow(
      /Int32Array/,
    );
  });
});
