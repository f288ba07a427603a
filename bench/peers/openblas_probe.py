#!/usr/bin/env python3
"""One candidate of bench/peers/openblasCoreType.ts: torch's float32 GEMM under the OpenBLAS kernels this
process was started with (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as the caller set them, or unset).

    /usr/bin/python3 bench/peers/openblas_probe.py [--n 1024] [--repeats 3] [--min-ms 200]

Checks the product first (an n x n x n one and an odd-shaped one with a transposed operand, against a
float64 reference that uses no BLAS), then times torch.mm on n x n x n, and prints one JSON line:
{kernel, kernelSource, blas, torch, threads, n, gflops: [per repeat], checks: [{shape, maxError, tol}], correct}.
maxError is max |C - ref| / (|A|·|B|) over the checked entries (null for NaN or inf); the float32
bound for a K-term dot product, whatever the summation order, is about K·2^-24, and tol is twice that.
"""
import ctypes
import json
import math
import os
import re
import sys
import time

import torch


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def kernel_in_use():
    """The OpenBLAS kernel set chosen at load time: threadpoolctl, else openblas_get_corename, else torch's build."""
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            if lib.get("internal_api") == "openblas":
                return lib.get("architecture"), "threadpoolctl", f"OpenBLAS {lib.get('version')} ({lib.get('filepath')})"
    except Exception:
        pass
    with open("/proc/self/maps") as f:
        libs = sorted({os.path.realpath(l.split()[-1]) for l in f if len(l.split()) >= 6 and re.search(r"blas", l.split()[-1], re.I)})
    for lib in libs:
        try:
            so = ctypes.CDLL(lib)
            so.openblas_get_corename.restype = ctypes.c_char_p
            so.openblas_get_config.restype = ctypes.c_char_p
            return so.openblas_get_corename().decode(), "openblas_get_corename", f"{so.openblas_get_config().decode()} ({lib})"
        except (OSError, AttributeError):
            continue
    build = [l.strip() for l in torch.__config__.show().splitlines() if re.search(r"blas", l, re.I)]
    return None, "torch.__config__", "; ".join(build) or "unknown"


def reference_rows(a, b, rows):
    """Rows of a·b and of |a|·|b| in float64 by elementwise products and sums: no BLAS involved."""
    a64, b64 = a.double(), b.double()
    ref = torch.stack([(a64[i][:, None] * b64).sum(0) for i in rows])
    scale = torch.stack([(a64[i].abs()[:, None] * b64.abs()).sum(0) for i in rows])
    return ref, scale


def check(a, b, product, rows):
    """max |product - ref| / (|a|·|b|) over `rows`, and the tolerance for this K."""
    ref, scale = reference_rows(a, b, rows)
    err = ((product[rows].double() - ref).abs() / scale.clamp_min(1e-30)).max().item()
    return {"maxError": err if math.isfinite(err) else None, "tol": 2 * a.shape[1] * 2.0**-24}  # None: NaN/inf


def main():
    n, repeats, min_ms = arg("--n", 1024), arg("--repeats", 3), arg("--min-ms", 200.0)
    threads = os.cpu_count()
    torch.set_num_threads(threads)  # as torch_llama.py does
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    c = torch.empty(n, n)
    torch.mm(a, b, out=c)
    kernel, source, blas = kernel_in_use()  # after the first product: the library is loaded
    rows = sorted({0, n - 1, *torch.randint(0, n, (30,), generator=g).tolist()})
    oa, ob = torch.randn(257, 515, generator=g), torch.randn(131, 515, generator=g)  # odd edges, B transposed
    checks = [
        {"shape": f"{n}x{n}x{n}", **check(a, b, c, rows)},
        {"shape": "257x515x131 (B transposed)", **check(oa, ob.t(), oa @ ob.t(), list(range(257)))},
    ]
    correct = all(k["maxError"] is not None and k["maxError"] <= k["tol"] for k in checks)
    gflops = []
    for _ in range(repeats):
        calls, t0 = 0, time.perf_counter()
        while True:
            torch.mm(a, b, out=c)
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed * 1000 >= min_ms:
                break
        gflops.append(2 * n**3 * calls / elapsed / 1e9)
    print(json.dumps({
        "kernel": kernel, "kernelSource": source, "blas": blas, "torch": torch.__version__, "threads": threads,
        "n": n, "gflops": gflops, "checks": checks, "correct": correct,
    }))


if __name__ == "__main__":
    main()
