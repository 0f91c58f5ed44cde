#!/usr/bin/env python3
"""Flower's own Multi-Krum on the updates `merit bench aggregate --flower` generated.

Calls `flwr.server.strategy.aggregate.aggregate_krum(results, num_malicious, to_keep)`
unchanged, with `results = [([u_i], 1) for each update]` (one layer per client, every
client weighted 1), `num_malicious = f` and `to_keep = n - f` (Multi-Krum), and times the
call: its distance matrix, scores, selection and the mean of the kept updates. Prints one
JSON object (`flower_s` is the best of `--reps` runs) and writes the returned mean as raw
little-endian f32 to `--out`, so Merit can check it got the same result.

`merit bench aggregate --flower` runs this itself, with OMP/OPENBLAS/MKL_NUM_THREADS set to
its rayon thread count. By hand (the input is raw little-endian f32, n rows of d values):

    ~/.cache/merit/flower-venv/bin/python bench/krum_flower.py --input updates.f32 \\
        --trainers 64 --params 1048576 --byzantine 16 --out mean.f32

The venv (only for this benchmark; numpy comes with flwr) is in bench/README.md.
"""

import argparse
import json
import os
import time

import numpy as np
import flwr
from flwr.server.strategy.aggregate import aggregate_krum


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, help="raw little-endian f32, n x d")
    p.add_argument("--trainers", type=int, required=True)
    p.add_argument("--params", type=int, required=True)
    p.add_argument("--byzantine", type=int, required=True, help="num_malicious f")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--out", help="write the Multi-Krum mean here (raw little-endian f32)")
    a = p.parse_args()

    n, d, f = a.trainers, a.params, a.byzantine
    x = np.fromfile(a.input, dtype="<f4")
    if x.size != n * d:
        raise SystemExit(f"{a.input}: {x.size} values, expected {n} x {d}")
    x = x.reshape(n, d)
    results = [([x[i]], 1) for i in range(n)]

    runs = []
    mean = None
    for _ in range(max(1, a.reps)):
        t = time.perf_counter()
        mean = aggregate_krum(results, num_malicious=f, to_keep=n - f)
        runs.append(time.perf_counter() - t)
    if a.out:
        np.asarray(mean[0], dtype="<f4").tofile(a.out)
    print(
        json.dumps(
            {
                "flower_s": min(runs),
                "flower_runs_s": runs,
                "flwr": flwr.__version__,
                "numpy": np.__version__,
                "flower_threads": os.environ.get("OMP_NUM_THREADS"),
            }
        )
    )


if __name__ == "__main__":
    main()
