/**
 * How far a run is and how long the rest will take: elapsed training time (stopped time excluded) and
 * an ETA from the measured time per step, as one line ("step 40/300 · 3m12s elapsed · ~21m left").
 * Pure, with the clock passed in, so tests drive it without a browser.
 */

/** `45s`, `3m12s`, `1h05m`: a duration a reader takes in at a glance (seconds dropped past an hour). */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A rough remaining time: whole minutes past ten minutes, where seconds would be false precision. */
export function formatRemaining(ms: number): string {
  return ms >= 600_000 ? `${Math.round(ms / 60_000)}m` : formatDuration(ms);
}

/**
 * The clock of one run. `running` brackets each stretch of training (a Stop ends one, a Resume starts
 * the next); `step` records each step report. The time per step is the mean wall-clock gap between
 * consecutive step reports within a stretch, so validation and sampling count and a stop's pause does not;
 * before two reports it is the first step's own time.
 */
export class RunClock {
  private elapsedBefore = 0;
  private since: number | null = null;
  private lastStepAt: number | null = null;
  private gaps = 0;
  private gapTotal = 0;
  private firstStepMs: number | null = null;
  /** The last step reported. */
  step = 0;

  constructor(
    /** Steps the run will take. */
    readonly total: number,
    private readonly now: () => number,
  ) {}

  /** Training started or resumed (idempotent while running). */
  start(): void {
    if (this.since !== null) return;
    this.since = this.now();
    this.lastStepAt = null;
  }

  /** Training stopped, finished or failed. */
  stop(): void {
    if (this.since === null) return;
    this.elapsedBefore += this.now() - this.since;
    this.since = null;
    this.lastStepAt = null;
  }

  /** A step report: its number and the time the step itself took. */
  record(step: number, ms: number): void {
    const t = this.now();
    if (this.lastStepAt !== null) {
      this.gaps++;
      this.gapTotal += t - this.lastStepAt;
    }
    this.lastStepAt = t;
    this.firstStepMs ??= ms;
    this.step = step;
  }

  /** Training time so far, stops excluded. */
  get elapsedMs(): number {
    return this.elapsedBefore + (this.since === null ? 0 : this.now() - this.since);
  }

  /** The measured time per step (NaN before any step). */
  get msPerStep(): number {
    return this.gaps > 0 ? this.gapTotal / this.gaps : (this.firstStepMs ?? NaN);
  }

  /** The estimated time to the last step (NaN before any step). */
  get remainingMs(): number {
    return (this.total - this.step) * this.msPerStep;
  }

  /** `step 40/300 · 3m12s elapsed · ~21m left`; `done` in place of the estimate after the last step. */
  line(): string {
    const rest =
      this.step >= this.total
        ? "done"
        : Number.isFinite(this.remainingMs)
          ? `~${formatRemaining(this.remainingMs)} left`
          : "measuring the time per step";
    return `step ${this.step}/${this.total} · ${formatDuration(this.elapsedMs)} elapsed · ${rest}`;
  }
}

/** What a run of `steps` will take at a time per step measured before, or why there is no estimate. */
export function estimateLine(steps: number, msPerStep: number | undefined): string {
  if (msPerStep === undefined || !(msPerStep > 0))
    return `${steps} steps; the time per step is measured once training starts, and the time left shows here`;
  return `${steps} steps: ~${formatRemaining(steps * msPerStep)} at the ${(msPerStep / 1000).toFixed(2)}s a step measured last time in this browser`;
}
