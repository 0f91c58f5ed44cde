#!/usr/bin/env python3
"""PyTorch (CPU) twin of `merit bench train`: the spec's MLP, optimiser, learning rate,
batch size and thread count, on the same train/test split.

The split comes from Merit itself so both sides see the same rows:

    merit data fetch-digits --out digits.csv
    merit data split --input digits.csv --trainers 1 --seed 0 --out split
    RAYON_NUM_THREADS=1 merit bench train --data digits.csv --epochs 100 --json
    python3 bench/train_torch.py --split split --epochs 100 --threads 1 --json

With one trainer, `trainer-0.csv` + `validation.csv` are exactly the stratified 80 %
training part that `merit bench train` uses, and `test.csv` the 20 % test part (features
already divided by 16). Use a throwaway venv: `python3 -m venv /tmp/torchvenv &&
/tmp/torchvenv/bin/pip install torch numpy`.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def load(path):
    a = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
    return torch.from_numpy(a[:, :-1].copy()), torch.from_numpy(a[:, -1].astype(np.int64))


def model(widths, seed):
    """Linear layers with ReLU between; weights uniform in ±1/sqrt(fan_in), biases zero
    (the initialisation Merit uses)."""
    g = torch.Generator().manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        lin = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            bound = 1.0 / fan_in ** 0.5
            lin.weight.copy_((torch.rand(fan_out, fan_in, generator=g) * 2 - 1) * bound)
            lin.bias.zero_()
        layers.append(lin)
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", type=Path, required=True, help="output directory of `merit data split --trainers 1`")
    p.add_argument("--spec", type=Path, default=Path(__file__).resolve().parent.parent / "examples" / "digits-spec.json")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    spec = json.loads(a.spec.read_text())
    m = spec["model"]
    widths = [m["input"], *m["hidden"], m["classes"]]
    t = spec["training"]
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    xs, ys = zip(*(load(a.split / f) for f in ("trainer-0.csv", "validation.csv")))
    x_train, y_train = torch.cat(xs), torch.cat(ys)
    x_test, y_test = load(a.split / "test.csv")

    net = model(widths, a.seed)
    if t["optimizer"] == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=t["learning_rate"])
    else:
        opt = torch.optim.Adam(net.parameters(), lr=t["learning_rate"])
    loss_fn = nn.CrossEntropyLoss()
    bs = t["batch_size"]
    g = torch.Generator().manual_seed(a.seed)
    epochs_s = []
    for _ in range(a.epochs):
        start = time.perf_counter()
        order = torch.randperm(len(y_train), generator=g)
        for i in range(0, len(order), bs):
            idx = order[i : i + bs]
            opt.zero_grad()
            loss = loss_fn(net(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
        epochs_s.append(time.perf_counter() - start)

    with torch.no_grad():
        test_acc = (net(x_test).argmax(1) == y_test).float().mean().item()
        train_acc = (net(x_train).argmax(1) == y_train).float().mean().item()
    report = {
        "epoch_s": sum(epochs_s) / len(epochs_s),
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "threads": torch.get_num_threads(),
        "train_rows": len(y_train),
        "test_rows": len(y_test),
        "epochs": a.epochs,
        "torch": torch.__version__,
    }
    if a.json:
        print(json.dumps(report))
    else:
        print(
            f"{a.epochs} epochs on {len(y_train)} rows ({t['optimizer']}, lr {t['learning_rate']}, batch {bs}), "
            f"{report['threads']} thread(s): {report['epoch_s']:.4f} s/epoch, test accuracy "
            f"{100 * test_acc:.2f} % ({len(y_test)} rows), train {100 * train_acc:.2f} % (torch {torch.__version__})"
        )


if __name__ == "__main__":
    main()
