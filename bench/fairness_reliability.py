"""Issue #26's fairness diagnosis: reads `merit simulate --per-round K --fairness --json`
outputs and prints, per run, the fairness the simulator reports and what limits it.

    target/debug/merit simulate --data digits.csv --trainers 100 --per-round 10 \\
        --power-law 1.1 --fairness --rounds 40 --local-epochs 5 --seed 1 --json > p1.json
    python3 bench/fairness_reliability.py p1.json [more.json ...]

Per run: `fairness` (pay per participation against standalone accuracy); the split-half
reliability of pay per participation (each trainer's odd against its even participations)
and the Spearman–Brown reliability of all its participations, with the cap √reliability
that puts on any correlation; fairness among trainers under SMALL rows (default 32);
and two re-weightings of the same per-round scores: each round's scores as shares of the
round, and scores cubed. Standard library only."""
import json, math, os, statistics as st, sys

SMALL = int(os.environ.get('SMALL', '32'))


def pearson(x, y):
    if len(x) < 2:
        return float('nan')
    mx, my = st.fmean(x), st.fmean(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    vx = sum((a - mx) ** 2 for a in x)
    vy = sum((b - my) ** 2 for b in y)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else float('nan')


def main(paths):
    for path in paths:
        d = json.load(open(path))
        if not d.get('draws'):
            sys.exit(f'{path}: not a sampled run (no draws); pass --per-round K')
        trainers = d['per_trainer']
        rounds = len(d['draws'])
        drawn = [[False] * rounds for _ in trainers]
        for r, draw in enumerate(d['draws']):
            for a in draw:
                drawn[a][r] = True
        round_total = [sum(t['scores'][r] for t in trainers) or 1 for r in range(rounds)]

        def fairness(pay, pick=lambda t: True):
            pts = [(pay(i, t), t['standalone_accuracy']) for i, t in enumerate(trainers)
                   if t.get('standalone_accuracy') is not None and any(drawn[i]) and pick(t)]
            return pearson([p for p, _ in pts], [s for _, s in pts])

        def per_part(f):
            def pay(i, t):
                rs = [r for r in range(rounds) if drawn[i][r]]
                return sum(f(t['scores'][r], r) for r in rs) / len(rs)
            return pay

        halves = []
        parts = []
        for i, t in enumerate(trainers):
            rs = [r for r in range(rounds) if drawn[i][r]]
            parts.append(len(rs))
            if len(rs) >= 2:
                halves.append((st.fmean(t['scores'][r] for r in rs[0::2]),
                               st.fmean(t['scores'][r] for r in rs[1::2])))
        half = pearson([a for a, _ in halves], [b for _, b in halves])
        one = half / (2 - half)  # one participation, from a half of about two
        k = st.fmean(p for p in parts if p)
        whole = k * one / (1 + (k - 1) * one)
        print(f"{path}: rule {d['rule']}, seed {d['seed']}, accuracy {d['final_accuracy']:.3f}")
        print(f"  fairness {d['fairness']:.3f}; split-half reliability {half:.3f}, "
              f"{k:.1f} participations: reliability {whole:.2f}, cap √{whole:.2f} = {math.sqrt(max(whole, 0)):.2f}")
        print(f"  under {SMALL} rows: {fairness(per_part(lambda s, r: s), lambda t: t['samples'] < SMALL):.3f}; "
              f"round shares: {fairness(per_part(lambda s, r: s / round_total[r])):.3f}; "
              f"scores cubed: {fairness(per_part(lambda s, r: (s / 1000) ** 3)):.3f}")


if __name__ == '__main__':
    main(sys.argv[1:])
