"""Float32 GEMM timings of numpy (OpenBLAS sgemm, `a @ b`) and PyTorch (`torch.mm`), for
`npm run bench` (pythonFloatGemms in bench/xnorBench.ts). Usage:
  float_gemm_bench.py --threads N --runs R --shapes 1024x1024x1024,100x4096x784
Prints one JSON object: {"rows": [{method, threads, m, n, k, seconds, runs}], "skipped": [why]}.
Inputs are random ±1 matrices (like the XNOR rows); one warm-up, then R timed runs, median.
The thread count must be set before numpy/torch load, so the caller runs one process per count.
"""
import argparse
import json
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--runs", type=int, default=3)
parser.add_argument("--shapes", required=True)
args = parser.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(args.threads)

shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
rows, skipped = [], []


def measure(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    s = sorted(times)
    mid = len(s) // 2
    return (s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2), times


def bench(method, make, mul):
    for m, n, k in shapes:
        big = m * n * k > 1e11  # as in xnorBench.ts: the largest products run once, unwarmed
        a, b, out = make(m, n, k)
        seconds, times = measure(lambda: mul(a, b, out), 1 if big else args.runs, 0 if big else 1)
        rows.append({"method": method, "threads": args.threads, "m": m, "n": n, "k": k, "seconds": seconds, "runs": times})
        del a, b, out


try:
    import numpy as np

    rng = np.random.default_rng(1)
    sign = lambda r, c: np.where(rng.random((r, c), dtype=np.float32) < 0.5, -1.0, 1.0).astype(np.float32)
    bench("float numpy (OpenBLAS) sgemm", lambda m, n, k: (sign(m, k), sign(k, n), np.empty((m, n), np.float32)),
          lambda a, b, out: np.matmul(a, b, out=out))
except ImportError as e:
    skipped.append(f"numpy: {e}")

try:
    import torch

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(1)
    tsign = lambda r, c: torch.where(torch.rand(r, c, generator=gen) < 0.5, -1.0, 1.0).float()
    bench(f"float PyTorch {torch.__version__.split('+')[0]} mm", lambda m, n, k: (tsign(m, k), tsign(k, n), torch.empty(m, n)),
          lambda a, b, out: torch.mm(a, b, out=out))
except ImportError as e:
    skipped.append(f"torch: {e}")

json.dump({"rows": rows, "skipped": skipped}, sys.stdout)
