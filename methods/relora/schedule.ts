/**
 * ReLoRA's jagged learning rate, as a factor on the run's warmup + cosine envelope: after each restart
 * the lr ramps linearly from 0 back up to the envelope over `rewarmup` steps (the authors'
 * `current_step % restart_every / restart_warmup_steps`), so the fresh adapter and its pruned moments
 * are not hit by a full-size first step. `sinceRestart` is null before the first restart (factor 1).
 */
export function rewarmupFactor(sinceRestart: number | null, rewarmup: number): number {
  if (sinceRestart === null || sinceRestart >= rewarmup) return 1;
  return sinceRestart / rewarmup;
}
