/**
 * Conversions between typed arrays and little-endian bytes. Both on-disk
 * formats we write (token cache, safetensors) are little-endian by spec, so
 * we byte-swap on the rare big-endian host instead of trusting host order.
 */
export type NumericArray = Float32Array | Int32Array | Float64Array;
export type NumericCtor = Float32ArrayConstructor | Int32ArrayConstructor | Float64ArrayConstructor;

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const swapInPlace = (bytes: Uint8Array, width: number): void => {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
};

/** A fresh copy of `arr` as little-endian bytes. */
export const toLittleEndianBytes = (arr: NumericArray): Uint8Array => {
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).slice();
  if (!HOST_IS_LITTLE_ENDIAN) swapInPlace(bytes, arr.BYTES_PER_ELEMENT);
  return bytes;
};

/**
 * A fresh, aligned typed array decoded from little-endian bytes. Copying
 * also detaches the result from (possibly unaligned) file buffers.
 * The caller guarantees `bytes.length` is a multiple of the element size.
 */
export const fromLittleEndianBytes = <C extends NumericCtor>(ctor: C, bytes: Uint8Array): InstanceType<C> => {
  // Not `bytes.slice()`: on a Node Buffer that is a view into a shared pool, not a copy.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!HOST_IS_LITTLE_ENDIAN) swapInPlace(copy, ctor.BYTES_PER_ELEMENT);
  return new ctor(copy.buffer, 0, copy.length / ctor.BYTES_PER_ELEMENT) as InstanceType<C>;
};
