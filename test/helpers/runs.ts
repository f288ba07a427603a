/**
 * How many cases a property test draws: `n`, times RANKFUSE_FC_SCALE when set. CI keeps the default;
 * `RANKFUSE_FC_SCALE=50 npm test` hunts for rare counterexamples before they turn up as flakes.
 */
export function runs(n: number): number {
  const scale = Number(process.env.RANKFUSE_FC_SCALE ?? 1);
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
