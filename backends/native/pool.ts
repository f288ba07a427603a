/**
 * Buffers of the native backend: typed arrays over pooled ArrayBuffers. Reusing freed buffers of the
 * same size avoids re-zeroing and page faults on every kernel output (a training step allocates
 * hundreds of megabytes); reshape outputs are views that share their input's buffer, counted once.
 * `liveBytes` is exact: bytes of buffers some live tensor still references.
 */
export type NBuf = Float32Array | Int32Array;

export class BufferPool {
  private readonly idle = new Map<number, ArrayBuffer[]>();
  private readonly refs = new Map<ArrayBuffer, number>();
  private idleBytes = 0;
  liveBytes = 0;

  /** Most bytes kept idle for reuse; beyond it freed buffers go to the garbage collector. */
  constructor(private readonly maxIdleBytes = 1 << 30) {}

  private take(bytes: number): ArrayBuffer {
    const stack = this.idle.get(bytes);
    const buf = stack?.pop();
    if (buf) this.idleBytes -= bytes;
    const b = buf ?? new ArrayBuffer(bytes);
    this.refs.set(b, 1);
    this.liveBytes += bytes;
    return b;
  }

  /** A float32 buffer of n values; contents are undefined (kernels overwrite every value). */
  f32(n: number): Float32Array {
    return new Float32Array(this.take(n * 4));
  }
  i32(n: number): Int32Array {
    return new Int32Array(this.take(n * 4));
  }
  /** A second tensor over the same memory (reshape): no copy, no new bytes. */
  view(x: NBuf): NBuf {
    this.refs.set(x.buffer as ArrayBuffer, (this.refs.get(x.buffer as ArrayBuffer) ?? 0) + 1);
    return x instanceof Float32Array
      ? new Float32Array(x.buffer, x.byteOffset, x.length)
      : new Int32Array(x.buffer, x.byteOffset, x.length);
  }
  release(x: NBuf): void {
    const b = x.buffer as ArrayBuffer;
    const n = (this.refs.get(b) ?? 0) - 1;
    if (n > 0) return void this.refs.set(b, n);
    this.refs.delete(b);
    this.liveBytes -= b.byteLength;
    if (this.idleBytes + b.byteLength > this.maxIdleBytes) return;
    const stack = this.idle.get(b.byteLength) ?? [];
    stack.push(b);
    this.idle.set(b.byteLength, stack);
    this.idleBytes += b.byteLength;
  }
}
