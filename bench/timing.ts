import { performance } from "node:perf_hooks";

/**
 * Seconds per call of each f, per repeat (each repeat calls f for at least minMs), after one warm-up call
 * each; the fs alternate within a repeat, so a ratio of two of them per repeat sees one machine state.
 */
export function timeRepeats(funcs: (() => void)[], repeats: number, minMs: number): number[][] {
  for (const f of funcs) f();
  const out = funcs.map(() => [] as number[]);
  for (let r = 0; r < repeats; r++) {
    funcs.forEach((f, i) => {
      const t0 = performance.now();
      let calls = 0,
        elapsed = 0;
      do {
        f();
        calls++;
        elapsed = performance.now() - t0;
      } while (elapsed < minMs);
      out[i]!.push(elapsed / 1000 / calls);
    });
  }
  return out;
}
