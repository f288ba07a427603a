/**
 * The modeling file of a PyTorch package: the model's loss, traced into rankfuse primitives, written as
 * an `nn.Module` with one line per primitive (TORCH_RULES). Each decoder block is a named module
 * (`Block`, one class where every block's code is the same), the parameters keep rankfuse's names
 * (`state_dict()` keys are `blocks.0.q.A`, ...), and a method with a remat policy runs each block under
 * `torch.utils.checkpoint`.
 */
import * as E from "fp-ts/lib/Either.js";
import type { Dim } from "../../ir/dim.ts";
import type { RankfuseError } from "../../ir/errors.ts";
import type { Eqn, Var } from "../../ir/graph.ts";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import type { Tensor } from "../../dsl/trace.ts";
import { trace, type Traced } from "../../dsl/traceFunction.ts";
import type { LanguageModel } from "../../models/model.ts";
import { TORCH_HELPERS, TORCH_RULES, type Emit, type EmitContext } from "./emit.ts";
import { blockOf, cutBlocks, inlineFused } from "./segments.ts";
import { SAFETENSORS_PY } from "./safetensorsPy.ts";

/** What the header of a generated file says produced it. */
export interface Provenance {
  readonly version: string;
  /** The method's name, or its file's path for a method of a user's own. */
  readonly method: string;
}

/** The loss's equations at one batch shape: params first, then ids and targets. */
function traceLoss(
  model: LanguageModel,
  batch: number,
  seq: number,
): E.Either<RankfuseError, { eqns: Eqn[]; inputs: readonly Var[] }> {
  const [b, t] = [dim("b", batch), dim("t", seq)];
  const traced = trace((p: unknown, x: Tensor, y: Tensor) => model.loss(p, x, y), [
    model.layout.specs,
    spec([b, t], "int32"),
    spec([b, t], "int32"),
  ] as const);
  return E.map((tr: Traced) => ({ eqns: inlineFused(tr.graph), inputs: tr.graph.inputs }))(traced);
}

const PY_KEYWORDS = new Set(
  "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield".split(
    " ",
  ),
);
/** `self` plus a dotted param path as a Python attribute chain (`getattr` where a part is no identifier). */
const access = (base: string, path: string): string =>
  path
    .split(".")
    .reduce(
      (s, part) =>
        /^[A-Za-z_]\w*$/.test(part) && !PY_KEYWORDS.has(part)
          ? `${s}.${part}`
          : `getattr(${s}, ${JSON.stringify(part)})`,
      base,
    );

const pyShape = (s: readonly number[]): string => (s.length === 1 ? `(${s[0]},)` : `(${s.join(", ")})`);

/** One function being written: its local names, and whether it read b, t, dtype or device. */
class Scope {
  private readonly names = new Map<Var, string>();
  private count = 0;
  readonly lines: string[] = [];
  used = { b: false, t: false, dtype: false, device: false };

  constructor(private readonly fixed: ReadonlyMap<Var, string>) {}

  /** A fresh local name for a value this function receives or computes. */
  bind(v: Var): string {
    const n = `x${this.count++}`;
    this.names.set(v, n);
    return n;
  }
  name(v: Var): string {
    const n = this.names.get(v) ?? this.fixed.get(v);
    if (n === undefined) throw new Error(`torch export: %${v.id} is used before it is defined`);
    return n;
  }
  /** One line per equation; `twin` is the same equation traced at another batch and sequence length. */
  emit(e: Eqn, twin: Eqn): void {
    const twinDims = (twin.params as { dims?: readonly Dim[] }).dims;
    const ctx: EmitContext = {
      args: e.inputs.map((v) => this.name(v)),
      ins: e.inputs.map((v) => v.abs),
      out: e.out.abs,
      dim: (d, axis) => {
        if (d.name === "b" || d.name === "t") return ((this.used[d.name] = true), d.name);
        return twinDims?.[axis]?.size === d.size || !twinDims ? String(d.size) : "-1";
      },
      get dtype() {
        return ((scope.used.dtype = true), "dtype");
      },
      get device() {
        return ((scope.used.device = true), "device");
      },
    };
    const scope = this;
    const rhs = (TORCH_RULES[e.prim] as Emit<typeof e.prim>)(e.params, ctx);
    const note = e.meta.name ? `  # ${e.meta.name}` : "";
    this.lines.push(`${this.bind(e.out)} = ${rhs}${note}`);
  }
}

const indent = (lines: readonly string[], n: number) => lines.map((l) => (l ? " ".repeat(n) + l : l));

/** The body of a forward: what it unpacks first (b, t, dtype, device where used), then its lines. */
function prologue(used: Scope["used"], like: string, batchFrom: string | null): string[] {
  const out: string[] = [];
  if (batchFrom && (used.b || used.t)) out.push(`b, t = ${batchFrom}`);
  if (used.dtype || used.device) out.push(`dtype, device = ${like}.dtype, ${like}.device`);
  return out;
}

/**
 * The Python source of the model's modeling file. The loss is traced twice (at `batch` × `seq` and at
 * one more of each) so that every axis that follows the batch shape is written as `b`, `t` or -1, and
 * the module runs at any batch size (each rank's share of a global batch).
 */
export function modelingSource(
  model: LanguageModel,
  provenance: Provenance,
  shape: { readonly batch: number; readonly seq: number },
): E.Either<RankfuseError, string> {
  const traced = traceLoss(model, shape.batch, shape.seq);
  if (E.isLeft(traced)) return traced;
  const twin = traceLoss(model, shape.batch + 1, shape.seq + 1);
  if (E.isLeft(twin)) return twin;
  const { eqns, inputs } = traced.right;
  const twins = twin.right.eqns.length === eqns.length ? twin.right.eqns : eqns;
  const names = model.layout.names;
  const P = names.length;
  if (inputs.length !== P + 2) throw new Error(`torch export: ${inputs.length} graph inputs for ${P} params`);

  const paramBlock = new Map<Var, number>(inputs.slice(0, P).map((v, i) => [v, blockOf(names[i]!)]));
  const blockCount = Math.max(0, ...names.map(blockOf).map((b) => b + 1));
  const cuts = cutBlocks(eqns, paramBlock, blockCount);

  // the top forward sees every param as self.<path>, the ids and the targets
  const topFixed = new Map<Var, string>(inputs.slice(0, P).map((v, i) => [v, access("self", names[i]!)]));
  topFixed.set(inputs[P]!, "ids");
  topFixed.set(inputs[P + 1]!, "targets");
  const top = new Scope(topFixed);
  const classes: { name: string; text: string }[] = [];
  const blockClass: string[] = [];

  const usedAfter = (from: number): Set<Var> => new Set(eqns.slice(from).flatMap((e) => e.inputs));
  let k = 0;
  const runTop = (until: number) => {
    for (; k < until; k++) top.emit(eqns[k]!, twins[k]!);
  };
  if (cuts) {
    for (let i = 0; i < blockCount; i++) {
      runTop(cuts.starts[i]!);
      const end = i + 1 < blockCount ? cuts.starts[i + 1]! : cuts.end;
      const body = eqns.slice(k, end);
      const defined = new Set(body.map((e) => e.out));
      const own = new Map<Var, string>();
      inputs.slice(0, P).forEach((v, j) => {
        if (blockOf(names[j]!) === i) own.set(v, access("self", names[j]!.replace(/^blocks\.\d+\./, "")));
      });
      const liveIn = [...new Set(body.flatMap((e) => e.inputs))].filter((v) => !defined.has(v) && !own.has(v));
      const after = usedAfter(end);
      const liveOut = body.map((e) => e.out).filter((v) => after.has(v));
      const s = new Scope(own);
      const params = liveIn.map((v) => s.bind(v));
      body.forEach((e, j) => s.emit(e, twins[k + j]!));
      const ownNames = names.filter((n) => blockOf(n) === i);
      const first = access("self", ownNames[0]!.replace(/^blocks\.\d+\./, ""));
      const needsBT = s.used.b || s.used.t;
      const sig = ["self", ...params, ...(needsBT ? ["b", "t"] : [])].join(", ");
      const ret = liveOut.map((v) => s.name(v)).join(", ");
      const decls = ownNames.map(
        (n) =>
          `_declare(self, ${JSON.stringify(n.replace(/^blocks\.\d+\./, ""))}, ${pyShape(model.layout.shapes[names.indexOf(n)]!)})`,
      );
      const text = [
        `    def __init__(self):`,
        `        super().__init__()`,
        ...indent(decls, 8),
        ``,
        `    def forward(${sig}):`,
        ...indent([...prologue(s.used, first, null), ...s.lines], 8),
        `        return ${ret}`,
      ].join("\n");
      let cls = classes.find((c) => c.text === text);
      if (!cls) classes.push((cls = { name: "", text }));
      blockClass.push(classes.indexOf(cls).toString());
      // the block's call in the top forward
      const args = [...liveIn.map((v) => top.name(v)), ...(needsBT ? ["b", "t"] : [])];
      if (needsBT) ((top.used.b = true), (top.used.t = true));
      const outs = liveOut.map((v) => top.bind(v));
      top.lines.push(`${outs.join(", ")} = self._run(self.blocks[${i}], ${args.join(", ")})`);
      k = end;
    }
  }
  runTop(eqns.length);
  top.lines.push(`return ${top.name(eqns.at(-1)!.out)}`);
  classes.forEach((c, i) => (c.name = classes.length === 1 ? "Block" : `Block${blockClass.indexOf(String(i))}`));

  const topDecls = names
    .map((n, i) => [n, i] as const)
    .filter(([n]) => !cuts || blockOf(n) < 0)
    .map(([n, i]) => `_declare(self, ${JSON.stringify(n)}, ${pyShape(model.layout.shapes[i]!)})`);
  const frozen = names.filter((_, i) => model.frozen?.[i]);
  const c = model.config;
  const file = [
    `"""${model.method} ${c.name} as a PyTorch module, generated by rankfuse ${provenance.version} from method ${provenance.method}.`,
    ``,
    `One line per rankfuse primitive of the traced loss; parameters keep rankfuse's names (state_dict keys`,
    `are "blocks.0.q.A", ...). Regenerate with \`rankfuse export --torch DIR\` rather than editing by hand.`,
    `"""`,
    `import json`,
    `import math`,
    `import struct`,
    ``,
    `import torch`,
    `import torch.nn as nn`,
    `import torch.nn.functional as F`,
    `import torch.utils.checkpoint`,
    ``,
    `RANKFUSE_VERSION = ${JSON.stringify(provenance.version)}`,
    `METHOD = ${JSON.stringify(provenance.method)}`,
    `CONFIG = json.loads(${JSON.stringify(JSON.stringify(c))})`,
    `# params that never train (no gradient, no optimizer state)`,
    `FROZEN = ${JSON.stringify(frozen)}`,
    `# run each block under torch.utils.checkpoint: rankfuse's remat policy for this method is ${model.remat ? JSON.stringify(model.remat.name ?? "set") : "none"}`,
    `REMAT = ${model.remat ? "True" : "False"}`,
    ``,
    ``,
    TORCH_HELPERS,
    ``,
    `def _declare(module, name, shape):`,
    `    """Registers parameter \`name\` (a dotted path) of \`shape\` under \`module\`, adding sub-modules on the way."""`,
    `    *path, leaf = name.split(".")`,
    `    for part in path:`,
    `        if not hasattr(module, part):`,
    `            module.add_module(part, nn.Module())`,
    `        module = getattr(module, part)`,
    `    module.register_parameter(leaf, nn.Parameter(torch.zeros(shape)))`,
    ``,
    ``,
    SAFETENSORS_PY,
    ...classes.flatMap((cl) => [
      ``,
      ``,
      `class ${cl.name}(nn.Module):`,
      `    """A decoder block (attention and MLP with their residuals); its params are rankfuse's blocks.<i>.*."""`,
      ``,
      cl.text,
    ]),
    ``,
    ``,
    `class RankfuseModel(nn.Module):`,
    `    """${model.method} ${c.name}: forward(ids, targets) is the mean next-token loss, as rankfuse's loss."""`,
    ``,
    `    def __init__(self, remat=REMAT):`,
    `        super().__init__()`,
    `        self.remat = remat`,
    ...indent(topDecls, 8),
    ...(cuts
      ? [`        self.blocks = nn.ModuleList([${blockClass.map((i) => `${classes[Number(i)]!.name}()`).join(", ")}])`]
      : []),
    `        for name, p in self.named_parameters():`,
    `            p.requires_grad_(name not in FROZEN)`,
    ``,
    `    def _run(self, block, *args):`,
    `        """A block's forward; under torch.utils.checkpoint when remat is on and gradients are recorded."""`,
    `        if self.remat and torch.is_grad_enabled():`,
    `            return torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False)`,
    `        return block(*args)`,
    ``,
    `    def forward(self, ids, targets):`,
    `        """Mean next-token loss of ids [b, t] against targets [b, t]."""`,
    `        ids, targets = ids.long(), targets.long()`,
    ...indent([...prologue(top.used, access("self", names[0]!), "ids.shape"), ...top.lines], 8),
    ``,
    ``,
    `def load_model(path, remat=REMAT):`,
    `    """A RankfuseModel with the weights of a safetensors file written under rankfuse's param names."""`,
    `    model = RankfuseModel(remat=remat)`,
    `    tensors = load_safetensors(path)`,
    `    model.load_state_dict({name: tensors[name] for name, _ in model.named_parameters()})`,
    `    return model`,
    ``,
  ];
  return E.right(file.join("\n"));
}
