/**
 * The safetensors format (https://github.com/huggingface/safetensors),
 * written and read exactly per spec so checkpoints open in PyTorch/JAX
 * tooling: u64 little-endian header size N, N bytes of JSON header
 * (space-padded to 8-byte alignment), then a hole-free little-endian byte
 * buffer. Decoding validates everything and never throws.
 */
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { trainError, type TrainError } from "./errors.ts";
import { fromLittleEndianBytes, toLittleEndianBytes, type NumericArray, type NumericCtor } from "./littleEndian.ts";

export type Dtype = "F32" | "I32" | "F64";
export type Tensor =
  | { dtype: "F32"; shape: number[]; data: Float32Array }
  | { dtype: "I32"; shape: number[]; data: Int32Array }
  | { dtype: "F64"; shape: number[]; data: Float64Array };
/** A tensor to encode: dtype, shape and data. */
export type TensorInput = { dtype: Dtype; shape: number[]; data: NumericArray };
/** A decoded safetensors file: named tensors and string metadata. */
export type Safetensors = { tensors: Record<string, Tensor>; metadata: Record<string, string> };

const CTORS: Record<Dtype, NumericCtor> = { F32: Float32Array, I32: Int32Array, F64: Float64Array };
/** Spec dtypes we recognise but cannot load, so the error says "unsupported" rather than "invalid". */
const OTHER_SPEC_DTYPES = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "U32", "I64", "U64"];
/** The reference implementation's header cap; also bounds what a corrupt length can make us allocate. */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

type HeaderEntry = { dtype: Dtype; shape: number[]; data_offsets: [number, number] };

const elementCount = (shape: number[]): number => shape.reduce((n, d) => n * d, 1);

/** Code-point order, independent of locale, so identical inputs give identical bytes. */
const sortedKeys = (o: object): string[] => Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Serialize tensors (names sorted, data laid out in that order) with
 * optional string metadata. Mismatched dtype/array/shape is a programming
 * error and throws.
 */
export const encodeSafetensors = (
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
): Uint8Array => {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    header[METADATA_KEY] = Object.fromEntries(sortedKeys(metadata).map((k) => [k, metadata[k]]));
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of sortedKeys(tensors)) {
    const { dtype, shape, data } = tensors[name];
    if (name === METADATA_KEY) throw new RangeError(`tensor name ${METADATA_KEY} is reserved`);
    if (!(data instanceof CTORS[dtype]))
      throw new RangeError(`tensor ${name}: data is not a ${CTORS[dtype].name} for dtype ${dtype}`);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0) || elementCount(shape) !== data.length) {
      throw new RangeError(`tensor ${name}: shape [${shape}] does not match ${data.length} elements`);
    }
    const bytes = toLittleEndianBytes(data);
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset).fill(0x20, 8, 8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let at = 8 + padded;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

const bad = (message: string): E.Either<TrainError, never> => E.left(trainError("SafetensorsError", message));

const isNonNegInt = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Check one header entry's types and that its byte range matches dtype × shape and lies inside the buffer. */
const checkEntry = (name: string, raw: unknown, dataLength: number): E.Either<TrainError, HeaderEntry> => {
  const e = raw as Partial<Record<keyof HeaderEntry, unknown>> | null;
  if (typeof e !== "object" || e === null || Array.isArray(e))
    return bad(`tensor "${name}": header entry is not an object`);
  if (typeof e.dtype !== "string" || !(e.dtype in CTORS)) {
    return bad(
      OTHER_SPEC_DTYPES.includes(String(e.dtype))
        ? `tensor "${name}": unsupported dtype ${e.dtype} (supported: F32, I32, F64)`
        : `tensor "${name}": invalid dtype ${JSON.stringify(e.dtype)}`,
    );
  }
  const dtype = e.dtype as Dtype;
  if (!Array.isArray(e.shape) || !e.shape.every(isNonNegInt))
    return bad(`tensor "${name}": shape must be an array of non-negative integers`);
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt) || offs[0] > offs[1]) {
    return bad(`tensor "${name}": data_offsets must be [start, end] with 0 <= start <= end`);
  }
  const [start, end] = offs as [number, number];
  if (end > dataLength)
    return bad(
      `tensor "${name}": data_offsets [${start}, ${end}] exceed the ${dataLength}-byte data buffer (file truncated?)`,
    );
  const expected = elementCount(e.shape) * CTORS[dtype].BYTES_PER_ELEMENT;
  if (end - start !== expected) {
    return bad(`tensor "${name}": ${end - start} bytes for dtype ${dtype} shape [${e.shape}] (expected ${expected})`);
  }
  return E.right({ dtype, shape: e.shape, data_offsets: [start, end] });
};

/** The spec requires the data buffer to be covered exactly: no gaps, no overlaps, nothing left over. */
const checkLayout = (entries: [string, HeaderEntry][], dataLength: number): E.Either<TrainError, void> => {
  const byStart = [...entries].sort(
    ([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0] || a.data_offsets[1] - b.data_offsets[1],
  );
  let at = 0;
  for (const [
    name,
    {
      data_offsets: [start, end],
    },
  ] of byStart) {
    if (start !== at)
      return bad(
        `tensor "${name}": data starts at byte ${start}, expected ${at} (${start < at ? "overlapping" : "gap in"} data)`,
      );
    at = end;
  }
  return at === dataLength
    ? E.right(undefined)
    : bad(`data buffer has ${dataLength - at} trailing bytes not owned by any tensor`);
};

const checkMetadata = (raw: unknown): E.Either<TrainError, Record<string, string>> =>
  raw === undefined
    ? E.right({})
    : typeof raw === "object" &&
        raw !== null &&
        !Array.isArray(raw) &&
        Object.values(raw).every((v) => typeof v === "string")
      ? E.right({ ...(raw as Record<string, string>) })
      : bad(`${METADATA_KEY} must map strings to strings`);

const parseHeader = (
  bytes: Uint8Array,
): E.Either<TrainError, { header: Record<string, unknown>; dataStart: number }> => {
  if (bytes.length < 8) return bad(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) return bad(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n > BigInt(bytes.length - 8))
    return bad(`header length ${n} exceeds the ${bytes.length - 8} bytes after it (file truncated?)`);
  const dataStart = 8 + Number(n);
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart));
    if (!text.startsWith("{")) return bad("header does not start with '{'");
    header = JSON.parse(text);
  } catch {
    return bad("header is not valid UTF-8 JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return bad("header is not a JSON object");
  return E.right({ header: header as Record<string, unknown>, dataStart });
};

/**
 * The string metadata of a safetensors file from its head alone (the 8-byte length and the header that
 * follows), so a caller can read a large file's metadata without reading its tensors.
 */
export const decodeSafetensorsMetadata = (head: Uint8Array): E.Either<TrainError, Record<string, string>> =>
  E.flatMap(parseHeader(head), ({ header }) => checkMetadata(header[METADATA_KEY]));

/** Parse and fully validate a safetensors file; tensors are copied out, so `bytes` may be reused afterwards. */
export const decodeSafetensors = (bytes: Uint8Array): E.Either<TrainError, Safetensors> =>
  E.flatMap(parseHeader(bytes), ({ header, dataStart }) => {
    const dataLength = bytes.length - dataStart;
    const entries: [string, HeaderEntry][] = [];
    for (const name of sortedKeys(header)) {
      if (name === METADATA_KEY) continue;
      const entry = checkEntry(name, header[name], dataLength);
      if (E.isLeft(entry)) return entry;
      entries.push([name, entry.right]);
    }
    return E.flatMap(checkLayout(entries, dataLength), () =>
      pipe(
        checkMetadata(header[METADATA_KEY]),
        E.map((metadata) => {
          const tensors: Record<string, Tensor> = {};
          for (const [
            name,
            {
              dtype,
              shape,
              data_offsets: [start, end],
            },
          ] of entries) {
            const data = fromLittleEndianBytes(CTORS[dtype], bytes.subarray(dataStart + start, dataStart + end));
            tensors[name] = { dtype, shape, data } as Tensor;
          }
          return { tensors, metadata };
        }),
      ),
    );
  });
