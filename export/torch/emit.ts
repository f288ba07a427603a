/**
 * One PyTorch expression per rankfuse primitive. The table is typed `{ [P in Prim]: Emit<P> }`, so a
 * primitive added to ir/prims.ts without a rule here does not compile. Each rule returns the right-hand
 * side of one line of the generated forward; the helpers it names (`_rmsnorm`, `_rope`, ...) are defined
 * once at the top of the modeling file (TORCH_HELPERS), each with the float64 reference kernel's formula.
 */
import type { Dim } from "../../ir/dim.ts";
import type { AbsVal } from "../../ir/graph.ts";
import type { Prim, PrimParams } from "../../ir/prims.ts";

/** What a rule knows of one equation: its inputs' Python names and abstract values, its output's, and how to spell a dim. */
export interface EmitContext {
  readonly args: readonly string[];
  readonly ins: readonly AbsVal[];
  readonly out: AbsVal;
  /** A dim as Python: `b` or `t` for the batch and sequence axes (sizes read from the ids), else its size. */
  readonly dim: (d: Dim, axis: number) => string;
  /** The float dtype and device of the module's parameters, as Python expressions. */
  readonly dtype: string;
  readonly device: string;
}

/** The rule of one primitive: its params and context to a Python expression. */
export type Emit<P extends Prim> = (p: PrimParams[P], c: EmitContext) => string;

const shape = (c: EmitContext, dims: readonly Dim[]): string =>
  dims.length === 1 ? `(${c.dim(dims[0]!, 0)},)` : `(${dims.map((d, i) => c.dim(d, i)).join(", ")})`;
const axes = (a: readonly number[]): string => (a.length === 1 ? `${a[0]}` : `(${a.join(", ")})`);
const unary =
  (f: string): Emit<Prim> =>
  (_, c) =>
    `${f}(${c.args[0]})`;
const binary =
  (op: string): Emit<Prim> =>
  (_, c) =>
    `${c.args[0]} ${op} ${c.args[1]}`;
const num = (v: number): string =>
  Number.isFinite(v) ? String(v) : v > 0 ? 'float("inf")' : v < 0 ? 'float("-inf")' : 'float("nan")';
const torchDtype = (d: "float32" | "int32", c: EmitContext): string => (d === "int32" ? "torch.long" : c.dtype);

/** Every primitive's PyTorch expression (int tensors are int64 in PyTorch: ids index tables). */
export const TORCH_RULES: { readonly [P in Prim]: Emit<P> } = {
  neg: (_, c) => `-${c.args[0]}`,
  exp: unary("torch.exp"),
  log: unary("torch.log"),
  sqrt: unary("torch.sqrt"),
  tanh: unary("torch.tanh"),
  sigmoid: unary("torch.sigmoid"),
  silu: unary("F.silu"),
  gelu: (_, c) => `F.gelu(${c.args[0]}, approximate="tanh")`,
  relu: unary("torch.relu"),
  dsilu: unary("_dsilu"),
  dgelu: unary("_dgelu"),
  drelu: (_, c) => `(${c.args[0]} > 0).to(${c.args[0]}.dtype)`,
  add: binary("+"),
  sub: binary("-"),
  mul: binary("*"),
  div: binary("/"),
  maximum: (_, c) => `torch.maximum(${c.args[0]}, ${c.args[1]})`,
  equal: (_, c) => `(${c.args[0]} == ${c.args[1]}).to(${torchDtype(c.out.dtype, c)})`,
  literal: (p, c) =>
    p.dims.length === 0
      ? `torch.tensor(${num(p.value)}, dtype=${torchDtype(p.dtype, c)}, device=${c.device})`
      : `torch.full(${shape(c, p.dims)}, ${num(p.value)}, dtype=${torchDtype(p.dtype, c)}, device=${c.device})`,
  sum: (p, c) => (p.axes.length === 0 ? c.args[0]! : `${c.args[0]}.sum(dim=${axes(p.axes)})`),
  max: (p, c) => (p.axes.length === 0 ? c.args[0]! : `${c.args[0]}.amax(dim=${axes(p.axes)})`),
  mean: (p, c) => (p.axes.length === 0 ? c.args[0]! : `${c.args[0]}.mean(dim=${axes(p.axes)})`),
  matmul: (p, c) => {
    const t = (x: string, yes?: boolean) => (yes ? `${x}.transpose(-2, -1)` : x);
    return `torch.matmul(${t(c.args[0]!, p.transA)}, ${t(c.args[1]!, p.transB)})`;
  },
  reshape: (p, c) => `${c.args[0]}.reshape${shape(c, p.dims)}`,
  transpose: (p, c) => `${c.args[0]}.permute(${p.perm.join(", ")})`,
  broadcast: (p, c) => `${c.args[0]}.expand${shape(c, p.dims)}`,
  gather: (_, c) => `F.embedding(${c.args[1]}, ${c.args[0]})`,
  scatterAdd: (p, c) => {
    const w = c.ins[0]!.dims.at(-1)!.size;
    return `torch.zeros((${p.rows.size}, ${w}), dtype=${c.args[0]}.dtype, device=${c.device}).index_add(0, ${c.args[1]}.reshape(-1), ${c.args[0]}.reshape(-1, ${w}))`;
  },
  softmax: (p, c) => (p.causal ? `_causal_softmax(${c.args[0]})` : `torch.softmax(${c.args[0]}, dim=-1)`),
  logSoftmax: (_, c) => `torch.log_softmax(${c.args[0]}, dim=-1)`,
  rmsnorm: (p, c) => `_rmsnorm(${c.args[0]}, ${c.args[1]}, ${num(p.eps)})`,
  rope: (p, c) => `_rope(${c.args[0]}, ${num(p.base)}, inverse=${p.inverse ? "True" : "False"})`,
  cast: (p, c) => (p.dtype === "int32" ? `${c.args[0]}.trunc().long()` : `${c.args[0]}.to(${c.dtype})`),
  oneHot: (p, c) => `F.one_hot(${c.args[0]}, ${p.depth.size}).to(${c.dtype})`,
  crossEntropy: (_, c) => `_cross_entropy(${c.args[0]}, ${c.args[1]})`,
};

/**
 * The helpers the rules name, in Python: each computes what the reference backend's kernel of the same
 * primitive computes (backends/reference/kernels.ts, ir/activations.ts).
 */
export const TORCH_HELPERS = `def _rmsnorm(x, w, eps):
    """rmsnorm: x * rsqrt(mean(x^2, -1) + eps) * w."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * w


def _rope(x, base, inverse=False):
    """Rotary embedding, half-split (LLaMA) convention, over x [..., T, Dh] at positions 0..T-1."""
    t, dh = x.shape[-2], x.shape[-1]
    half = dh // 2
    freq = torch.pow(torch.tensor(float(base), dtype=torch.float64), -2.0 * torch.arange(half, dtype=torch.float64) / dh)
    theta = torch.arange(t, dtype=torch.float64)[:, None] * freq[None, :]
    cos, sin = theta.cos().to(x.dtype).to(x.device), theta.sin().to(x.dtype).to(x.device)
    if inverse:
        sin = -sin
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


def _causal_softmax(x):
    """Softmax over the last axis with entries above the diagonal of the last two axes masked to 0."""
    t, s = x.shape[-2], x.shape[-1]
    mask = torch.ones((t, s), dtype=torch.bool, device=x.device).triu(1)
    return torch.softmax(x.masked_fill(mask, float("-inf")), dim=-1)


def _cross_entropy(logits, targets):
    """Per-token loss logsumexp(logits) - logits[target], shaped like targets."""
    return torch.logsumexp(logits, dim=-1) - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _dsilu(x):
    """d/dx silu(x) = s * (1 + x * (1 - s)), s = sigmoid(x)."""
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))


def _dgelu(x):
    """d/dx of GELU's tanh approximation."""
    c, a = math.sqrt(2 / math.pi), 0.044715
    t = torch.tanh(c * (x + a * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * a * x * x)
`;
