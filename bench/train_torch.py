#!/usr/bin/env python3
"""PyTorch (CPU) twin of `merit bench train`: the spec's model (an MLP, or a CNN's layer
list), optimiser, learning rate, batch size and thread count, on the same train/test split.

The split comes from Merit itself so both sides see the same rows:

    merit data fetch-digits --out digits.csv
    merit data split --input digits.csv --trainers 1 --seed 0 --out split
    RAYON_NUM_THREADS=1 merit bench train --data digits.csv --epochs 100 --json
    python3 bench/train_torch.py --split split --epochs 100 --threads 1 --json

With one trainer, `trainer-0.csv` + `validation.csv` are exactly the stratified 80 %
training part that `merit bench train` uses, and `test.csv` the 20 % test part (features
already divided by the largest, 16 for the digits, 255 for MNIST). MNIST's LeNet:

    merit data fetch-mnist --out mnist.csv
    merit data split --input mnist.csv --inputs 784 --trainers 1 --seed 0 --out mnist-split
    RAYON_NUM_THREADS=2 merit bench train --spec examples/mnist-cnn-spec.json --data mnist.csv --epochs 10 --json
    python3 bench/train_torch.py --spec examples/mnist-cnn-spec.json --split mnist-split --epochs 10 --threads 2 --json

Use a throwaway venv: `python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install
torch numpy`.
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


def uniform_(t, fan_in, g):
    """Uniform in ±1/sqrt(fan_in), as Merit initialises weights."""
    with torch.no_grad():
        t.copy_((torch.rand(t.shape, generator=g) * 2 - 1) / fan_in ** 0.5)


def mlp(m, g):
    """Linear layers with ReLU between."""
    widths = [m["input"], *m["hidden"], m["classes"]]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers), (m["input"],)


def cnn(m, g):
    """The spec's layer list in order; a row's features are the input image in C, H, W
    order, and flatten keeps that order, as Merit's does."""
    shape = (m["input"]["channels"], m["input"]["height"], m["input"]["width"])
    c, h, w = shape
    flat = None  # features after flatten
    layers = []
    for l in m["layers"]:
        kind = l["type"]
        if kind == "conv2d":
            k, s, p = l["kernel"], l.get("stride", 1), l.get("padding", 0)
            layers.append(nn.Conv2d(c, l["out_channels"], k, stride=s, padding=p))
            c, h, w = l["out_channels"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        elif kind == "max_pool2d":
            layers.append(nn.MaxPool2d(l["size"]))
            h, w = h // l["size"], w // l["size"]
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "flatten":
            layers.append(nn.Flatten())
            flat = c * h * w
        elif kind == "linear":
            layers.append(nn.Linear(flat, l["out"]))
            flat = l["out"]
        else:
            raise SystemExit(f"layer type {kind!r} is not known to this script")
    return nn.Sequential(*layers), shape


def model(spec_model, seed):
    """The spec's network with Merit's initialisation: weights uniform in ±1/sqrt(fan_in)
    (fan_in = in · k · k for a convolution), biases zero."""
    build = {"mlp": mlp, "cnn": cnn}.get(spec_model["type"])
    if build is None:
        raise SystemExit(f"model type {spec_model['type']!r} is not known to this script")
    g = torch.Generator().manual_seed(seed)
    net, shape = build(spec_model, g)
    for layer in net:
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            uniform_(layer.weight, layer.weight[0].numel(), g)
            with torch.no_grad():
                layer.bias.zero_()
    return net, shape


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
    t = spec["training"]
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    net, shape = model(spec["model"], a.seed)
    xs, ys = zip(*(load(a.split / f) for f in ("trainer-0.csv", "validation.csv")))
    x_train, y_train = torch.cat(xs).reshape(-1, *shape), torch.cat(ys)
    x_test, y_test = load(a.split / "test.csv")
    x_test = x_test.reshape(-1, *shape)

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
        "epochs_s": epochs_s,
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in net.parameters()),
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
