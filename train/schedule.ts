/** Learning-rate schedules as pure functions of the step, so a resumed run gets the same lr without saved state. */

export type WarmupCosineOptions = { lr: number; warmupSteps: number; totalSteps: number; minRatio?: number };

/**
 * Linear warmup then cosine decay, indexed by 0-based step:
 * - step < warmupSteps: lr·(step+1)/warmupSteps (never 0, so step 0 learns);
 * - warmupSteps ≤ step ≤ totalSteps: cosine from lr down to minRatio·lr;
 * - after totalSteps: minRatio·lr (training past the plan keeps a sane lr).
 * Invalid options are programming errors (the CLI validates user input) and throw.
 */
export const warmupCosine = ({ lr, warmupSteps, totalSteps, minRatio = 0.1 }: WarmupCosineOptions) => {
  if (!(Number.isFinite(lr) && lr >= 0)) throw new RangeError(`lr must be a finite number >= 0, got ${lr}`);
  if (!Number.isSafeInteger(warmupSteps) || warmupSteps < 0)
    throw new RangeError(`warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  if (!Number.isSafeInteger(totalSteps) || totalSteps < 0)
    throw new RangeError(`totalSteps must be an integer >= 0, got ${totalSteps}`);
  if (!(minRatio >= 0 && minRatio <= 1)) throw new RangeError(`minRatio must be in [0, 1], got ${minRatio}`);
  const decaySteps = totalSteps - warmupSteps;
  return (step: number): number => {
    if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
    // Past warmup, step >= totalSteps also covers totalSteps <= warmupSteps (no decay phase).
    if (step >= totalSteps) return lr * minRatio;
    const cos = 0.5 * (1 + Math.cos((Math.PI * (step - warmupSteps)) / decaySteps));
    return lr * (minRatio + (1 - minRatio) * cos);
  };
};
