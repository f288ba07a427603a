#!/usr/bin/env python3
"""Peer benchmark: the rankfuse model (LLaMA "full" or CoLA "cola") in plain PyTorch on the CPU.

    /usr/bin/python3 bench/peers/torch_llama.py <inputDir> <out.json> [--no-coretype-fix]

The input folder is made by bench/peers/makeInputs.ts (or the lead's rankfuse-side script):
model.safetensors + config.json (Hugging Face LLaMA names) + batches.bin + run.json. Trains run.json's
`steps` steps from exactly those weights on exactly those batches with torch.optim.AdamW (constant lr,
betas 0.9/0.999, eps 1e-8, weight decay on 2-D weights only, no clipping) and writes
{peer, version, method, losses, stepMs, tokensPerSec, peakMemoryBytes, notes}.

Written for Debian bookworm's python3-torch (1.13): no scaled_dot_product_attention, no torch.compile;
safetensors parsed by hand (no safetensors package).
"""
import ctypes
import json
import os
import re
import resource
import struct
import sys
import time

import subprocess

# OpenBLAS picks its kernels when it loads (DYNAMIC_ARCH). 0.3.21 (Debian bookworm) does not know recent
# Xeons (e.g. Sapphire Rapids) and falls back to its Prescott (SSE3) kernels, about 4x slower sgemm.
# Unless OPENBLAS_CORETYPE is set or --no-coretype-fix is given, ask a throwaway process what OpenBLAS
# detects and, if it is a pre-AVX2 fallback on a CPU with AVX-512 or AVX2, set OPENBLAS_CORETYPE (the
# documented override) before torch loads the library.
_LEGACY = {"prescott", "core2", "penryn", "dunnington", "nehalem", "katmai", "coppermine", "northwood", "banias", "atom", "unknown"}
_PROBE = (
    "import ctypes\n"
    "try:\n"
    " so = ctypes.CDLL('libblas.so.3'); so.openblas_get_corename.restype = ctypes.c_char_p; print(so.openblas_get_corename().decode())\n"
    "except Exception:\n"
    " print('')\n"
)


def _fix_openblas_coretype():
    if "OPENBLAS_CORETYPE" in os.environ:
        return f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} set by the caller"
    try:
        detected = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception:
        detected = ""
    if not detected:
        return "no OpenBLAS found by a libblas.so.3 probe"
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        better = "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    elif {"avx2", "fma"} <= flags:
        better = "Haswell"
    else:
        better = None
    if detected.lower() in _LEGACY and better and "--no-coretype-fix" not in sys.argv:
        os.environ["OPENBLAS_CORETYPE"] = better
        return f"OpenBLAS auto-detected {detected} (CPU unknown to this OpenBLAS); set OPENBLAS_CORETYPE={better} to match the CPU's AVX-512/AVX2"
    return f"OpenBLAS auto-detected {detected}" + (" (--no-coretype-fix: kept)" if "--no-coretype-fix" in sys.argv else "")


CORETYPE_NOTE = _fix_openblas_coretype()

import numpy as np  # noqa: E402  (after OPENBLAS_CORETYPE is settled)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {e['dtype']}, only F32 is supported")
        s, t = e["data_offsets"]
        arr = np.frombuffer(buf, dtype="<f4", count=(t - s) // 4, offset=8 + n + s).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32))  # copy: native byte order, writable
    return out


def read_batches(path, steps, n):
    raw = np.fromfile(path, dtype="<i4")
    if raw.size < steps * 2 * n:
        raise ValueError(f"{path}: {raw.size} int32 values, need {steps * 2 * n} for {steps} batches")
    raw = raw[: steps * 2 * n].reshape(steps, 2, n).astype(np.int64)
    return [(torch.from_numpy(raw[s, 0].copy()), torch.from_numpy(raw[s, 1].copy())) for s in range(steps)]


def blas_info():
    """torch's build lines about BLAS, and the BLAS library actually mapped into this process."""
    build = [l.strip() for l in torch.__config__.show().splitlines() if re.search(r"blas|lapack|mkl", l, re.I)]
    build = [re.sub(r"CXX_FLAGS=.*?(, LAPACK_INFO)", r"...\1", l) for l in build]
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # make sure the BLAS is loaded
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1] if len(line.split()) >= 6 else ""
            if re.search(r"blas|mkl_|libblis|atlas", os.path.basename(p), re.I):
                libs.add(os.path.realpath(p))
    name = "unknown"
    for lib in sorted(libs):
        try:
            so = ctypes.CDLL(lib)
            so.openblas_get_config.restype = ctypes.c_char_p
            so.openblas_get_corename.restype = ctypes.c_char_p
            # the config names the DYNAMIC_ARCH build baseline; the core name is the kernel set chosen at run time
            name = f"{so.openblas_get_config().decode()}, kernels for {so.openblas_get_corename().decode()}, {so.openblas_get_num_threads()} threads"
            break
        except (OSError, AttributeError):
            continue
    if name == "unknown":
        if any("mkl" in l for l in libs):
            name = "MKL"
        elif any(re.search(r"/libblas\.so", l) and "openblas" not in l for l in libs):
            name = "reference BLAS (netlib libblas3)"
    return build, sorted(libs), name


class Model:
    """The rankfuse decoder with params taken from the export, as plain tensors with requires_grad."""

    def __init__(self, st, method, c):
        self.method, self.c = method, c
        self.gate_silu = method == "full" or not c["onlyLrAct"]
        self.eps = c.get("normEps", 1e-6)
        base = c.get("ropeBase", 10000.0)
        self.params = {}
        for k, v in st.items():
            self.params[k] = v.requires_grad_(True)
        d, h = c["d"], c["heads"]
        self.dh = d // h
        half = self.dh // 2
        T = c["seq"]
        inv = torch.tensor([base ** (-2.0 * i / self.dh) for i in range(half)], dtype=torch.float64)
        theta = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos = torch.cos(theta).float()  # [T, dh/2]
        self.sin = torch.sin(theta).float()
        self.mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True above the diagonal

    def p(self, name):
        return self.params[name]

    def proj(self, x, pre):
        if self.method == "full":
            return F.linear(x, self.p(pre + ".weight"))  # PyTorch Linear layout [out, in]
        return F.silu(x @ self.p(pre + ".cola_a")) @ self.p(pre + ".cola_b")  # CoLA: silu(x·A)·B

    def rmsnorm(self, x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * g

    def rope(self, x):  # [b, h, t, dh], half-split (rotate_half)
        half = self.dh // 2
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * self.cos - x2 * self.sin, x2 * self.cos + x1 * self.sin], dim=-1)

    def attention(self, x, pre):
        b, t, d = x.shape
        heads = lambda y: y.view(b, t, self.c["heads"], self.dh).transpose(1, 2)
        q = self.rope(heads(self.proj(x, pre + "q_proj"))) * (1.0 / self.dh ** 0.5)
        k = self.rope(heads(self.proj(x, pre + "k_proj")))
        v = heads(self.proj(x, pre + "v_proj"))
        scores = (q @ k.transpose(-2, -1)).masked_fill(self.mask, float("-inf"))
        att = torch.softmax(scores, dim=-1) @ v  # [b, h, t, dh]
        return self.proj(att.transpose(1, 2).reshape(b, t, d), pre + "o_proj")

    def mlp(self, x, pre):
        g = self.proj(x, pre + "gate_proj")
        return self.proj((F.silu(g) if self.gate_silu else g) * self.proj(x, pre + "up_proj"), pre + "down_proj")

    def loss(self, ids, targets):
        x = F.embedding(ids, self.p("model.embed_tokens.weight"))
        for i in range(self.c["layers"]):
            pre = f"model.layers.{i}."
            x = x + self.attention(self.rmsnorm(x, self.p(pre + "input_layernorm.weight")), pre + "self_attn.")
            x = x + self.mlp(self.rmsnorm(x, self.p(pre + "post_attention_layernorm.weight")), pre + "mlp.")
        logits = F.linear(self.rmsnorm(x, self.p("model.norm.weight")), self.p("lm_head.weight"))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def peak_rss_bytes():
    """This process's own peak RSS: VmHWM. getrusage's ru_maxrss carries the parent's peak across fork+exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main():
    args = [a for a in sys.argv[1:] if a != "--no-coretype-fix"]
    if len(args) != 2:
        print("usage: torch_llama.py <inputDir> <out.json> [--no-coretype-fix]", file=sys.stderr)
        sys.exit(2)
    src, out_file = args
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    build, libs, blas = blas_info()
    for l in build:
        print("torch config:", l)
    print("BLAS libraries mapped:", ", ".join(libs) or "none")
    print("BLAS:", blas)
    print("OpenBLAS core:", CORETYPE_NOTE)

    with open(os.path.join(src, "run.json")) as f:
        spec = json.load(f)
    c, method = spec["config"], spec["method"]
    B, T = c["batch"], c["seq"]
    model = Model(read_safetensors(os.path.join(src, "model.safetensors")), method, c)
    batches = read_batches(os.path.join(src, "batches.bin"), spec["steps"], B * T)

    decay = [p for p in model.params.values() if p.dim() == 2]
    no_decay = [p for p in model.params.values() if p.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": spec["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=spec["lr"], betas=(0.9, 0.999), eps=1e-8,
    )

    losses, step_ms = [], []
    for s, (ids, targets) in enumerate(batches):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(ids.view(B, T), targets.view(B, T))
        loss.backward()
        opt.step()
        lv = loss.item()
        step_ms.append((time.perf_counter() - t0) * 1000)
        losses.append(lv)
        print(f"torch step {s + 1}/{spec['steps']}: loss {lv:.6f}  {step_ms[-1]:.0f} ms", flush=True)

    later = step_ms[2:] if len(step_ms) > 2 else step_ms
    med = float(np.median(later))
    peak = peak_rss_bytes()
    notes = "; ".join([
        f"PyTorch {torch.__version__} CPU, float32, {threads} threads (torch.set_num_threads(os.cpu_count()))",
        f"BLAS: {blas} ({', '.join(libs) or 'no BLAS library mapped'})",
        CORETYPE_NOTE,
        "torch.optim.AdamW(lr, betas (0.9, 0.999), eps 1e-8), weight_decay on 2-D weights only (embedding, projections, CoLA factors, head), 0 on norm gains; no clipping, constant lr",
        "attention written by hand (q·kᵀ, masked_fill -inf above the diagonal, softmax, ·v); F.linear for dense [out, in] weights; x@A, x@B for CoLA",
        "peakMemoryBytes: VmHWM of /proc/self/status (whole-process peak RSS, incl. the Python runtime and torch libraries)",
        f"tokensPerSec: median over steps 3..{spec['steps']}",
    ])
    out = {
        "peer": "torch-cpu",
        "version": torch.__version__,
        "method": method,
        "losses": losses,
        "stepMs": step_ms,
        "tokensPerSec": B * T / (med / 1000),
        "peakMemoryBytes": peak,
        "peakRssBytes": peak,
        "notes": notes,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_file)), exist_ok=True)
    with open(out_file, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"torch-cpu: {out['tokensPerSec']:.0f} tokens/s (median), peak RSS {peak / 2**20:.1f} MiB -> {out_file}")


if __name__ == "__main__":
    main()
