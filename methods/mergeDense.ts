import * as E from "fp-ts/lib/Either.js";
import { dim, type Dim } from "../ir/dim.ts";
import type { Graph, Var } from "../ir/graph.ts";
import { unflatten } from "../ir/tree.ts";
import { spec } from "../dsl/spec.ts";
import type { Tensor } from "../dsl/trace.ts";
import { trace } from "../dsl/traceFunction.ts";
import { compile } from "../run/compile.ts";
import { referenceBackend } from "../backends/reference/backend.ts";
import type { LanguageModel } from "../models/model.ts";
import type { DecoderParams } from "../models/transformer.ts";
import { specLeaves } from "../models/params.ts";
import type { WeightKind } from "../models/projection.ts";
import { full } from "./full/index.ts";
import { buildModel } from "./method.ts";

/** The maps of a decoder block, each with its input and output width. */
const MAPS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
type MapName = (typeof MAPS)[number];

/** A model rewritten as the full-rank LLaMA that computes the same function. */
export interface Merged {
  readonly model: LanguageModel;
  readonly params: Float32Array[];
}

/**
 * Why a projection's graph (input x, then its weights) is not linear in x, or undefined when it is: every
 * value that depends on x must come from x by matmuls with weights, products with weights, sums and
 * differences of such values, and movement. A bias (x·W + b) or an activation (CoLA's SiLU) is not.
 */
export function nonlinearity(g: Graph, x: Var): string | undefined {
  const linear = new Set<Var>([x]);
  for (const e of g.eqns) {
    const dep = e.inputs.map((v) => linear.has(v));
    if (!dep.some(Boolean)) continue; // a function of the weights alone
    const [a, b] = dep;
    const ok =
      e.prim === "reshape" ||
      e.prim === "transpose" ||
      e.prim === "broadcast" ||
      e.prim === "neg" ||
      e.prim === "sum" ||
      e.prim === "mean" ||
      ((e.prim === "add" || e.prim === "sub") && a && b) ||
      ((e.prim === "mul" || e.prim === "matmul") && !(a && b)) ||
      (e.prim === "div" && a && !b);
    if (!ok)
      return e.prim === "add" || e.prim === "sub"
        ? `it adds a term that does not depend on its input (a bias)`
        : `it applies ${e.prim} to a value that depends on its input`;
    linear.add(e.out);
  }
  return undefined;
}

const widths = (m: LanguageModel): Record<MapName, [Dim, Dim]> => {
  const [d, ff] = [dim("d", m.config.d), dim("ff", m.config.dFF)];
  return { q: [d, d], k: [d, d], v: [d, d], o: [d, d], gate: [d, ff], up: [d, ff], down: [ff, d] };
};

/**
 * `export --merge`: the full-rank LLaMA whose function is the model's, where there is one: the model must
 * be the shared decoder with SwiGLU and every projection linear in its input (ReLoRA's W + (α/r)·A·B,
 * SST's U·diag(Σ)·Vᵀ, the structured FFNs). Each dense W [in, out] is the projection applied to the
 * identity, in float64 on the reference backend; embeddings, norms and the head are copied. The Left says,
 * in one line, why a model has no dense form (CoLA's SiLU between its factors, CR-Net's recurrence).
 */
export async function mergeDense(
  model: LanguageModel,
  params: readonly Float32Array[],
): Promise<E.Either<string, Merged>> {
  const no = (why: string) => E.left(`${model.method} has no dense LLaMA form: ${why}`);
  const decoder = model.decoder;
  if (!decoder) return no("its decoder is its own, not the shared LLaMA decoder");
  const dense = buildModel(full, model.config);
  if (E.isLeft(dense)) return E.left(dense.left.message);
  const target = dense.right;
  const params64 = params.map((p) => Float64Array.from(p));
  const byName = new Map(model.layout.names.map((n, i) => [n, params[i]!]));
  const out: Float32Array[] = [];
  const io = widths(model);
  for (const name of target.layout.names) {
    const m = /^blocks\.(\d+)\.(\w+)$/.exec(name);
    const map = m?.[2] as MapName | undefined;
    if (!m || !MAPS.includes(map!)) {
      const same = byName.get(name);
      if (!same) return no(`it has no ${name}`);
      out.push(Float32Array.from(same));
      continue;
    }
    const layer = Number(m[1]);
    const [I, O] = io[map!];
    const N = dim("n", I.size);
    let gateSilu = true;
    const fn = (x: Tensor<readonly [Dim<"n">, Dim]>, leaves: readonly Tensor[]) => {
      const p = unflatten(model.layout.def, leaves);
      const opts = decoder(p);
      gateSilu = opts.gateSilu;
      const w: unknown = (p as DecoderParams<WeightKind>).blocks[layer]![map!];
      return opts.proj.apply(x, w);
    };
    const args = [spec([N, I]), specLeaves(model.layout)] as const;
    const traced = trace(fn as (...a: unknown[]) => unknown, args);
    if (E.isLeft(traced)) return no(`tracing ${name}: ${traced.left.message}`);
    const why = nonlinearity(traced.right.graph, traced.right.graph.inputs[0]!);
    if (why) return no(`${name}: ${why}`);
    if (!gateSilu) return no("its MLP has no SiLU on the gate (only_lr_act), which LLaMA's SwiGLU has");
    const c = compile(fn as (...a: unknown[]) => unknown, { args, backend: referenceBackend() });
    if (E.isLeft(c)) return no(`${name}: ${c.left.message}`);
    const identity = new Float64Array(I.size * I.size);
    for (let i = 0; i < I.size; i++) identity[i * I.size + i] = 1;
    const r = await c.right.run(identity, params64);
    if (E.isLeft(r)) return no(`${name}: ${r.left.message}`);
    const w: unknown = r.right.out;
    if (!(w instanceof Float64Array)) return no(`${name}: the reference backend returned no float64 array`);
    if (w.length !== I.size * O.size) return no(`${name} maps ${I.size} to ${w.length / I.size} values, not ${O.size}`);
    out.push(Float32Array.from(w));
  }
  return E.right({ model: target, params: out });
}
