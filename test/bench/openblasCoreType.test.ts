import { describe, expect, it } from "vitest";
import {
  chooseCoreType,
  coreTypeCandidates,
  cpuFlags,
  probeCoreTypes,
  rejection,
  torchEnv,
  type CoreTypeCandidate,
  type CoreTypeMeasurement,
} from "../../bench/peers/openblasCoreType.ts";
import { stats } from "../../bench/stats.ts";
import { torchRequirement } from "../helpers/requirements.ts";

/**
 * The choice of PyTorch's OpenBLAS kernels for the peers benchmark: the selection logic on injected
 * measurements (the fastest correct one wins, a wrong one never does, the environment's setting is one
 * candidate among others), the candidates the CPU flags allow, an environment that only torch sees; and,
 * where /usr/bin/python3 imports torch, that the probe itself runs and returns a candidate.
 */
const AVX512 = new Set(["avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]);

const cand = (label: string, coreType?: string, fromEnvironment = false): CoreTypeCandidate => ({
  label,
  coreType,
  fromEnvironment,
});
const measured = (
  candidate: CoreTypeCandidate,
  gflops: number[],
  extra: Partial<Omit<CoreTypeMeasurement, "candidate" | "gflops">> = {},
): CoreTypeMeasurement => ({
  candidate,
  gflops: stats(gflops),
  kernel: candidate.coreType ?? "Cooperlake",
  correct: true,
  worstError: 0.01,
  failures: [],
  ...extra,
});

describe("OpenBLAS core type: selection", () => {
  it("the fastest correct candidate wins, by median", () => {
    const ms = [
      measured(cand("auto"), [180, 181, 179]),
      measured(cand("SkylakeX", "SkylakeX"), [369, 300, 371]),
      measured(cand("Haswell", "Haswell"), [194, 500, 190]), // one lucky repeat does not win
    ];
    expect(chooseCoreType(ms)?.candidate.label).toBe("SkylakeX");
  });

  it("a fastest candidate whose products are wrong, or whose process crashed, is rejected", () => {
    const wrong = measured(cand("Cooperlake", "Cooperlake"), [900], { correct: false, worstError: 1e6 });
    const crashed = measured(cand("SapphireRapids", "SapphireRapids"), [], { failures: ["killed by SIGILL"] });
    const ok = measured(cand("Haswell", "Haswell"), [194]);
    expect(chooseCoreType([wrong, crashed, ok])?.candidate.label).toBe("Haswell");
    expect(rejection(wrong)).toMatch(/wrong products/);
    expect(rejection(crashed)).toMatch(/SIGILL/);
    expect(chooseCoreType([wrong, crashed])).toBeNull();
  });

  it("a core type OpenBLAS did not honour (it loaded another kernel set) is rejected", () => {
    const unknown = measured(cand("SapphireRapids", "SapphireRapids"), [400], { kernel: "Cooperlake" });
    expect(rejection(unknown)).toMatch(/not honoured: OpenBLAS loaded Cooperlake/);
    expect(chooseCoreType([unknown, measured(cand("auto"), [180])])?.candidate.label).toBe("auto");
  });

  it("the environment's setting is only a candidate: kept where fastest, replaced where slower", () => {
    const env = cand("environment (OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE=1048576)", "Haswell", true);
    const slowerEnv = [measured(env, [194]), measured(cand("SkylakeX", "SkylakeX"), [369])];
    expect(chooseCoreType(slowerEnv)?.candidate.fromEnvironment).toBe(false);
    const fasterEnv = [measured(env, [400]), measured(cand("SkylakeX", "SkylakeX"), [369])];
    expect(chooseCoreType(fasterEnv)?.candidate).toBe(env);
  });
});

describe("OpenBLAS core type: candidates and environment", () => {
  it("lists OpenBLAS's own choice and the kernel sets the CPU's flags allow", () => {
    const labels = (flags: Set<string>) => coreTypeCandidates(flags, {}).map((c) => c.label);
    expect(labels(new Set(["sse2", "avx"]))).toEqual(["auto"]);
    expect(labels(new Set(["avx2", "fma"]))).toEqual(["auto", "Haswell"]);
    expect(labels(AVX512)).toEqual(["auto", "SkylakeX", "Haswell"]);
    expect(labels(new Set([...AVX512, "avx512_bf16"]))).toEqual(["auto", "Cooperlake", "SkylakeX", "Haswell"]);
    expect(labels(new Set([...AVX512, "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"]))[1]).toBe(
      "SapphireRapids",
    );
    expect(cpuFlags("processor\t: 0\nflags\t\t: fpu avx2 fma\n")).toEqual(new Set(["fpu", "avx2", "fma"]));
  });

  it("adds the environment's setting, merged into an identical candidate", () => {
    const same = coreTypeCandidates(AVX512, { OPENBLAS_CORETYPE: "haswell" });
    expect(same.filter((c) => c.fromEnvironment).map((c) => c.label)).toEqual(["Haswell"]);
    expect(same).toHaveLength(3);
    const withL2 = coreTypeCandidates(AVX512, { OPENBLAS_CORETYPE: "Haswell", OPENBLAS_L2_SIZE: "1048576" });
    expect(withL2.at(-1)).toEqual({
      label: "environment (OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE=1048576)",
      coreType: "Haswell",
      l2Size: "1048576",
      fromEnvironment: true,
    });
    expect(coreTypeCandidates(AVX512, {})[0]).toMatchObject({ label: "auto", fromEnvironment: true });
  });

  it("sets or unsets both variables together in a copy, leaving the given environment alone", () => {
    const base = { PATH: "/bin", OPENBLAS_CORETYPE: "Haswell", OPENBLAS_L2_SIZE: "1048576" };
    expect(torchEnv(base, cand("SkylakeX", "SkylakeX"))).toEqual({ PATH: "/bin", OPENBLAS_CORETYPE: "SkylakeX" });
    expect(torchEnv(base, cand("auto"))).toEqual({ PATH: "/bin" });
    expect(base).toEqual({ PATH: "/bin", OPENBLAS_CORETYPE: "Haswell", OPENBLAS_L2_SIZE: "1048576" });
  });
});

const torch = await torchRequirement();

describe.skipIf(torch.skip)(torch.title("OpenBLAS core type: the probe on this machine"), () => {
  it("runs every candidate in its own process and returns a correct one, leaving process.env alone", () => {
    const before = { core: process.env.OPENBLAS_CORETYPE, l2: process.env.OPENBLAS_L2_SIZE };
    const env = { ...process.env, OPENBLAS_CORETYPE: "Haswell" };
    const choice = probeCoreTypes({ python: torch.get(), rounds: 1, n: 256, repeats: 1, minMs: 20, env });
    expect(choice.measurements.length).toBeGreaterThanOrEqual(2); // auto and the environment's, at least
    expect(choice.measurements.some((m) => m.candidate.fromEnvironment)).toBe(true);
    const chosen = choice.chosen;
    expect(chosen, choice.summary).not.toBeNull();
    expect(chosen!.correct).toBe(true);
    expect(chosen!.gflops.median).toBeGreaterThan(0);
    expect(chosen!.worstError).toBeLessThanOrEqual(1);
    expect(choice.env.OPENBLAS_CORETYPE).toBe(chosen!.candidate.coreType);
    expect(choice.summary).toContain(chosen!.candidate.label);
    expect({ core: process.env.OPENBLAS_CORETYPE, l2: process.env.OPENBLAS_L2_SIZE }).toEqual(before);
  }, 300_000);
});
