/**
 * PyTorch at its best: which OpenBLAS kernel set its processes load. OpenBLAS picks its kernels when it
 * loads, from OPENBLAS_CORETYPE where set (with OPENBLAS_L2_SIZE for its blocking), else from its own CPU
 * detection, and an environment can pin a slower set than the CPU runs (Haswell's AVX2 kernels on an
 * AVX-512 CPU: about half the sgemm). So the bench measures every set the CPU's flags allow, plus
 * OpenBLAS's own choice and the environment's, each in a fresh process (bench/peers/openblas_probe.py:
 * a float32 product checked against a float64 reference, then timed), rounds interleaved across
 * candidates, and gives torch the fastest correct one. Only the torch processes see it: the bench's own
 * environment is never changed.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatStat, stats, type Stat } from "../stats.ts";

/** The Python snippet that measures one candidate (run with the candidate's environment). */
export const PROBE_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "openblas_probe.py");
/** The variables that choose OpenBLAS's kernels at load time; a candidate sets or unsets both together. */
export const OPENBLAS_VARS = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"] as const;

/** One setting of OpenBLAS's load-time variables to try for torch. */
export interface CoreTypeCandidate {
  /** "auto" (both variables unset: OpenBLAS's own detection), a core type, or "environment (...)". */
  readonly label: string;
  /** OPENBLAS_CORETYPE to set; undefined leaves it unset. */
  readonly coreType?: string;
  /** OPENBLAS_L2_SIZE to set; undefined leaves it unset. */
  readonly l2Size?: string;
  /** The bench's environment sets exactly this: it competes like any other candidate. */
  readonly fromEnvironment: boolean;
}

const AVX512 = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"];
/** OpenBLAS x86-64 kernel sets worth trying and the CPU flags each one's kernels execute. */
const CORE_TYPES: readonly { name: string; needs: readonly string[] }[] = [
  { name: "SapphireRapids", needs: [...AVX512, "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"] },
  { name: "Cooperlake", needs: [...AVX512, "avx512_bf16"] },
  { name: "SkylakeX", needs: AVX512 },
  { name: "Haswell", needs: ["avx2", "fma"] },
];

/** The flags of the first CPU in /proc/cpuinfo (an empty set where there is none). */
export function cpuFlags(cpuinfo?: string): Set<string> {
  let text = cpuinfo;
  if (text === undefined)
    try {
      text = fs.readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      text = "";
    }
  const line = text.split("\n").find((l) => /^flags\s*:/.test(l));
  return new Set(
    line
      ? line
          .slice(line.indexOf(":") + 1)
          .trim()
          .split(/\s+/)
      : [],
  );
}

/**
 * What to measure: OpenBLAS's own detection, each kernel set the CPU's flags allow, and the environment's
 * setting where it sets one (merged into the identical candidate where there is one).
 */
export function coreTypeCandidates(flags: ReadonlySet<string>, env: NodeJS.ProcessEnv): CoreTypeCandidate[] {
  const envCore = env.OPENBLAS_CORETYPE || undefined,
    envL2 = env.OPENBLAS_L2_SIZE || undefined;
  const same = (c: { coreType?: string; l2Size?: string }) =>
    (c.coreType ?? "").toLowerCase() === (envCore ?? "").toLowerCase() && c.l2Size === envL2;
  const out: CoreTypeCandidate[] = [{ label: "auto", fromEnvironment: false }];
  for (const t of CORE_TYPES)
    if (t.needs.every((f) => flags.has(f))) out.push({ label: t.name, coreType: t.name, fromEnvironment: false });
  const merged = out.map((c) => (same(c) ? { ...c, fromEnvironment: true } : c));
  if ((envCore || envL2) && !merged.some((c) => c.fromEnvironment))
    merged.push({
      label: `environment (${[envCore && `OPENBLAS_CORETYPE=${envCore}`, envL2 && `OPENBLAS_L2_SIZE=${envL2}`].filter(Boolean).join(", ")})`,
      coreType: envCore,
      l2Size: envL2,
      fromEnvironment: true,
    });
  return merged;
}

/** `base` with both OpenBLAS variables replaced by the candidate's (unset where it sets none); `base` is not changed. */
export function torchEnv(base: NodeJS.ProcessEnv, c: CoreTypeCandidate): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const v of OPENBLAS_VARS) delete env[v];
  if (c.coreType) env.OPENBLAS_CORETYPE = c.coreType;
  if (c.l2Size) env.OPENBLAS_L2_SIZE = c.l2Size;
  return env;
}

/** What one candidate's probe processes found, over every round. */
export interface CoreTypeMeasurement {
  readonly candidate: CoreTypeCandidate;
  /** torch.mm float32 GFLOP/s over every timed repeat of every round. */
  readonly gflops: Stat;
  /** The kernel set OpenBLAS reported loading (threadpoolctl, else openblas_get_corename); null if unknown. */
  readonly kernel: string | null;
  /** Every check of every round was within the float32 bound. */
  readonly correct: boolean;
  /** The worst check's error as a multiple of its float32 bound (≤ 1 is correct; Infinity for NaN). */
  readonly worstError: number;
  /** Why processes of this candidate failed (a crash, a timeout, unreadable output). */
  readonly failures: readonly string[];
}

/** Why a measured candidate cannot be chosen, or null where it can. */
export function rejection(m: CoreTypeMeasurement): string | null {
  if (m.failures.length) return `${m.failures.length} process(es) failed: ${m.failures[0]}`;
  if (m.gflops.n === 0) return "no timing";
  if (!m.correct) return `wrong products (error ${m.worstError.toPrecision(2)}x the float32 bound)`;
  if (m.candidate.coreType && m.kernel && m.kernel.toLowerCase() !== m.candidate.coreType.toLowerCase())
    return `not honoured: OpenBLAS loaded ${m.kernel}`;
  return null;
}

/** The fastest (median GFLOP/s) candidate that is correct and ran as asked; null where none is. */
export function chooseCoreType(ms: readonly CoreTypeMeasurement[]): CoreTypeMeasurement | null {
  return ms.filter((m) => rejection(m) === null).sort((a, b) => b.gflops.median - a.gflops.median)[0] ?? null;
}

/** The probe's outcome: every measurement, the choice, and the environment torch's processes get. */
export interface CoreTypeChoice {
  readonly measurements: readonly CoreTypeMeasurement[];
  readonly chosen: CoreTypeMeasurement | null;
  /** The environment for torch's processes: the chosen candidate's, or the bench's own where none was chosen. */
  readonly env: NodeJS.ProcessEnv;
  /** The GEMM the probe timed. */
  readonly shape: string;
  /** One line: the choice, then each candidate's figures or why it was rejected. */
  readonly summary: string;
}

/** The choice as a line: "SkylakeX (369 GFLOP/s ...); candidates: auto → Cooperlake 180 [...], ...". */
export function describeChoice(
  ms: readonly CoreTypeMeasurement[],
  chosen: CoreTypeMeasurement | null,
  shape: string,
): string {
  const one = (m: CoreTypeMeasurement) => {
    const why = rejection(m);
    const mine =
      m.candidate.fromEnvironment && !m.candidate.label.startsWith("environment") ? " (the environment's)" : "";
    const kernel = m.kernel && m.kernel !== m.candidate.coreType ? ` → ${m.kernel}` : "";
    return `${m.candidate.label}${mine}${kernel} ${formatStat(m.gflops)}${why ? ` REJECTED: ${why}` : ""}`;
  };
  const head = chosen
    ? `${chosen.candidate.label}${chosen.kernel && chosen.kernel !== chosen.candidate.coreType ? ` (${chosen.kernel} kernels)` : ""}, ${chosen.gflops.median.toFixed(0)} GFLOP/s`
    : "none passed (torch keeps the environment as it is)";
  return `OpenBLAS kernels for PyTorch: ${head}; torch.mm float32 ${shape} GFLOP/s, median [min-max], per candidate: ${ms.map(one).join("; ")}`;
}

/** The last line of a process's output that parses as a JSON object, or null. */
const lastJson = (s: string): Record<string, unknown> | null => {
  for (const line of s.trim().split("\n").reverse())
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === "object") return v as Record<string, unknown>;
    } catch {
      /* not this line */
    }
  return null;
};

interface ProbeOutput {
  kernel: string | null;
  gflops: number[];
  checks: { shape: string; maxError: number | null; tol: number }[];
  correct: boolean;
}

/**
 * Measures every candidate in fresh processes of `python`, `rounds` times, the rounds interleaved across
 * candidates so drift hits them alike, and chooses (chooseCoreType). `env` is only read.
 */
export function probeCoreTypes(
  opts: {
    python?: string;
    rounds?: number;
    n?: number;
    repeats?: number;
    minMs?: number;
    env?: NodeJS.ProcessEnv;
    flags?: ReadonlySet<string>;
    timeoutMs?: number;
    log?: (s: string) => void;
  } = {},
): CoreTypeChoice {
  const { python = "/usr/bin/python3", rounds = 2, n = 1024, repeats = 3, minMs = 150, timeoutMs = 120_000 } = opts;
  const env = opts.env ?? process.env;
  const candidates = coreTypeCandidates(opts.flags ?? cpuFlags(), env);
  const runs = candidates.map(() => ({ outs: [] as ProbeOutput[], failures: [] as string[] }));
  for (let r = 0; r < rounds; r++)
    candidates.forEach((c, i) => {
      const p = spawnSync(
        python,
        [PROBE_SCRIPT, "--n", String(n), "--repeats", String(repeats), "--min-ms", String(minMs)],
        { encoding: "utf8", env: torchEnv(env, c), timeout: timeoutMs },
      );
      const out = lastJson(p.stdout ?? "") as ProbeOutput | null;
      const failure = p.error
        ? p.error.message
        : p.signal
          ? `killed by ${p.signal}`
          : p.status !== 0
            ? `exit ${p.status}: ${(p.stderr || "").trim().split("\n").slice(-1)[0]}`
            : out && Array.isArray(out.gflops) && Array.isArray(out.checks)
              ? null
              : "no JSON result";
      if (failure || !out) runs[i]!.failures.push(failure ?? "no JSON result");
      else runs[i]!.outs.push(out);
      const seen = out
        ? `${out.kernel} kernels, ${out.gflops.map((g) => g.toFixed(0)).join(" ")} GFLOP/s, ${out.correct ? "correct" : "WRONG"}`
        : "";
      opts.log?.(`OpenBLAS ${c.label} round ${r + 1}/${rounds}: ${failure ? `FAILED: ${failure}` : seen}`);
    });
  const measurements: CoreTypeMeasurement[] = candidates.map((candidate, i) => {
    const { outs, failures } = runs[i]!;
    const checks = outs.flatMap((o) => o.checks);
    return {
      candidate,
      gflops: stats(outs.flatMap((o) => o.gflops)),
      kernel: outs.find((o) => o.kernel)?.kernel ?? null,
      correct: outs.length > 0 && outs.every((o) => o.correct),
      worstError: Math.max(0, ...checks.map((k) => (k.maxError === null ? Infinity : k.maxError / k.tol))),
      failures,
    };
  });
  const chosen = chooseCoreType(measurements);
  const shape = `${n}x${n}x${n}`;
  return {
    measurements,
    chosen,
    env: chosen ? torchEnv(env, chosen.candidate) : { ...env },
    shape,
    summary: describeChoice(measurements, chosen, shape),
  };
}
