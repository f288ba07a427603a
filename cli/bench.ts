import * as E from "fp-ts/lib/Either.js";
import { loadBackend } from "../backends/index.ts";
import { renderError } from "../ir/errors.ts";
import { benchFusion, FUSION_PASSES, type FusionPass } from "../bench/benchFusion.ts";
import { formatFusionReport } from "../bench/fusionTable.ts";
import { loadLayerModule } from "../bench/layerModule.ts";
import { choiceFlag, intFlag, parseFlags, UsageError } from "./args.ts";

const HELP = `rankfuse bench fusion: time your own layer compiled fused against unfused, forward and forward+backward

usage: rankfuse bench fusion --layer FILE [flags]

  --layer FILE       a module exporting the layer (see below)
  --backend NAME     backend to time on (default auto; fusion needs one with fused kernels: native, webgpu)
  --rounds N         timed rounds (default 7); each runs unfused and fused once, alternating which goes first,
                     and gives one ratio unfused/fused; the report shows their median [min-max]
  --warmup N         untimed rounds before them (default 1)
  --dims k=v,...     sizes of the layer's unbound dims, over the file's own dims (e.g. n=256,d=128)
  --pass P           forward, backward (forward+backward: the vjp of random cotangents) or both (default both)
  --any-rank         fuse beyond the backend's maxFusedRank, to time its fused kernels there too
  --json FILE        also save the report (every round's times, plans' kernels and bytes) as JSON

The layer file (.ts where TypeScript runs: this repository's cli, or node --import tsx; else .js):

  import { dim, spec, gelu, matmul } from "rankfuse";
  const [n, d, r] = [dim("n"), dim("d"), dim("r")];
  export const layer = (p, x) => matmul(gelu(matmul(x, p.A)), p.B);              // any DSL function
  export const shapes = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;  // its args' specs
  export const dims = { n: 2048, d: 512, r: 128 };   // optional: sizes of unbound dims
  export const name = "GELU CoLA layer";             // optional: the report's title

or one default export { layer, shapes, dims, name }. Example: bench/layers/geluCola.ts.`;

const PASSES: Record<string, readonly FusionPass[]> = {
  forward: ["forward"],
  backward: ["forward+backward"],
  "forward+backward": ["forward+backward"],
  both: FUSION_PASSES,
};

/** "n=256,d=128" as sizes; anything else is a UsageError. */
export function parseDims(v: string | undefined): Record<string, number> {
  if (v === undefined) return {};
  const out: Record<string, number> = {};
  for (const part of v.split(",").filter(Boolean)) {
    const m = /^\s*([A-Za-z_]\w*)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m || Number(m[2]) < 1) throw new UsageError(`--dims must look like n=256,d=128 (positive sizes), got "${v}"`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** `rankfuse bench <benchmark>`: only `fusion` for now (the full suites are `npm run bench` in the repository). */
export async function benchCommand(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  if (which === undefined || which === "--help" || which === "-h") return (console.log(HELP), which ? 0 : 2);
  if (which !== "fusion") throw new UsageError(`unknown benchmark "${which}" (benchmarks: fusion)`);
  const { values } = parseFlags(rest, {
    layer: { type: "string" },
    backend: { type: "string" },
    rounds: { type: "string" },
    warmup: { type: "string" },
    dims: { type: "string" },
    pass: { type: "string" },
    "any-rank": { type: "boolean" },
    json: { type: "string" },
  });
  if (values.help) return (console.log(HELP), 0);
  if (!values.layer) throw new UsageError("--layer FILE is required (a module exporting layer and shapes; see --help)");
  const rounds = intFlag(values.rounds, "rounds", 7);
  const warmup = intFlag(values.warmup, "warmup", 1, 0);
  const passes =
    PASSES[choiceFlag(values.pass, "pass", ["forward", "backward", "forward+backward", "both"] as const, "both")]!;
  const dimsOverride = parseDims(values.dims);

  const mod = await loadLayerModule(values.layer);
  if (E.isLeft(mod)) return (console.error(`rankfuse bench: ${mod.left}`), 2);
  const be = await loadBackend(values.backend || undefined);
  if (E.isLeft(be)) return (console.error(renderError(be.left)), 2);

  const { layer, shapes, name } = mod.right;
  let report: Awaited<ReturnType<typeof benchFusion>>;
  try {
    report = await benchFusion(layer as never, shapes, {
      backend: be.right,
      rounds,
      warmup,
      passes,
      dims: { ...mod.right.dims, ...dimsOverride },
      anyRank: values["any-rank"] ?? false,
      name,
      save: values.json,
    });
  } catch (e) {
    // the layer is the user's code: what it throws while being traced is theirs to read, in one line
    return (console.error(`rankfuse bench: ${name}: ${(e as Error).message ?? e}`), 1);
  }
  if (E.isLeft(report)) {
    const hint = report.left.tag === "UnboundDim" ? ` (--dims ${report.left.dim}=<size>)` : "";
    return (console.error(`rankfuse bench: ${name}: ${renderError(report.left)}${hint}`), 1);
  }
  console.log(formatFusionReport(report.right));
  if (values.json) console.log(`saved ${values.json}`);
  return 0;
}
