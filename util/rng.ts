/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32) whose full
 * state is a plain JSON object. Training needs bit-exact reproducibility
 * across resume — for data order and for parameter init — which
 * `Math.random` cannot give.
 */

/** JSON-serializable generator state; `spare` is Box–Muller's cached second normal. */
export type RngState = { s: [number, number, number, number]; spare: number | null };

const TWO_POW_32 = 2 ** 32;

/** splitmix32 step: expands a seed into well-mixed words (and avoids xoshiro's all-zero state). */
const splitmix32 = (x: number): [number, number] => {
  const next = (x + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [next, (z ^ (z >>> 16)) >>> 0];
};

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

const isU32 = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0 && (x as number) < TWO_POW_32;

/** True when `x` is a well-formed state (four u32 words, not all zero). */
export const isRngState = (x: unknown): x is RngState => {
  const st = x as Partial<RngState> | null;
  return (
    typeof st === "object" &&
    st !== null &&
    Array.isArray(st.s) &&
    st.s.length === 4 &&
    st.s.every(isU32) &&
    st.s.some((w) => w !== 0) &&
    (st.spare === null || (typeof st.spare === "number" && Number.isFinite(st.spare)))
  );
};

export class Rng {
  private s: Uint32Array;
  private spare: number | null;

  private constructor(s: ArrayLike<number>, spare: number | null) {
    this.s = Uint32Array.from(s);
    this.spare = spare;
  }

  /**
   * Seed from any safe integer (both 32-bit halves are mixed in) and an
   * optional stream id, so e.g. data order and init can use independent
   * streams of one user seed.
   */
  static fromSeed(seed: number, stream = 0): Rng {
    if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(stream)) {
      throw new RangeError(`Rng seed and stream must be safe integers, got ${seed}, ${stream}`);
    }
    let x = (seed >>> 0) ^ Math.imul(stream >>> 0, 0x27d4eb2f);
    let hi = Math.floor(seed / TWO_POW_32) >>> 0;
    const s: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [nx, out] = splitmix32(x ^ hi);
      x = nx;
      hi = rotl(hi, 7) ^ (stream >>> 0);
      s.push(out);
    }
    if (!s.some((w) => w !== 0)) s[0] = 1;
    return new Rng(s, null);
  }

  static restore(state: RngState): Rng {
    if (!isRngState(state)) throw new RangeError("invalid RngState");
    return new Rng(state.s, state.spare);
  }

  state(): RngState {
    const [a, b, c, d] = this.s;
    return { s: [a, b, c, d], spare: this.spare };
  }

  /** Next uniform 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Unbiased uniform integer in [0, n), 1 ≤ n ≤ 2^32, by rejection of the short tail. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32)
      throw new RangeError(`nextInt: n must be in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (times `std`, plus `mean`) via Box–Muller; the second value is cached in the state. */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + std * z;
    }
    const u1 = 1 - this.nextFloat(); // (0, 1]: log stays finite
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return mean + std * r * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(xs: T): T {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = xs[i];
      xs[i] = xs[j];
      xs[j] = tmp;
    }
    return xs;
  }
}
