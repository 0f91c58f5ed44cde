"""An example attacker for `merit simulate --attacker-exec` (docs/attacker-exec.md).

    merit simulate --data digits.csv --alpha 0.5 --rounds 20 --local-epochs 5 \
        --byzantine 3 --attack exec:0.1 --attacker-exec "python3 bench/attacker_example.py"

Each round it reads the round file named by $MERIT_ATTACKER_INPUT and prints one JSON line:
{"updates": [...]} with one update per attacker slot, in the file's order. The strategy:
half last round's public global change, half its own honest update (both as unit
vectors), rescaled to the median length of last round's reveals, so it looks like the
consensus at a typical length while doing half the honest work's share. Round 0 (no
change yet): its honest update. Standard library only.

MIX (environment, default 0.5): the weight of the public change (1 = pure public copy).
"""
import json
import math
import os
import random
import sys


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def unit(v):
    n = norm(v)
    return [x / n for x in v] if n > 0 else None


def lower_median(xs):
    xs = sorted(xs)
    return xs[(len(xs) + 1) // 2 - 1] if xs else None


def main():
    with open(os.environ["MERIT_ATTACKER_INPUT"]) as f:
        info = json.load(f)
    assert info["format"] == "merit-attacker/1", info["format"]
    mix = float(os.environ.get("MIX", "0.5"))
    rng = random.Random(info["round"])
    lo, hi = -32768, 32767
    g, prev = info["global_model"], info["previous_global_model"]
    history = info["history"]
    median = None
    if history:
        median = lower_median([norm(u) for u in history[-1]["reveals"] if u is not None])
    change = unit([a - b for a, b in zip(g, prev)]) if prev is not None else None
    out = []
    for honest in info["honest_updates"]:
        h = unit(honest)
        if change is None or h is None or not median:
            out.append(honest)
            continue
        d = [mix * c + (1 - mix) * x for c, x in zip(change, h)]
        # Independent jitter (2 % of the length) so two such attackers are not duplicates.
        d = [x + rng.gauss(0.0, 0.02 / math.sqrt(len(d))) for x in d]
        d = unit(d) or h
        out.append([max(lo, min(hi, round(x * median))) for x in d])
    sys.stdout.write(json.dumps({"updates": out}) + "\n")


if __name__ == "__main__":
    main()
