"""Issue #23's red team against a rule: runs `merit simulate --json` for each named attack
over seeds and prints mean ± sd of what the README's red-team table reports.

    MERIT=target/debug/merit DATA=digits.csv SEEDS=1,2,3 python3 bench/redteam_table.py proven

(`MERIT=target/release/examples/simulate`, built by `cargo build --release -p merit-sim
--example simulate`, runs the same simulations about twenty times faster.)

Environment: SEEDS (1,2,3), ROUNDS (20), EPOCHS (5), F (3), FRACTION (0.1), ALPHA (0.5),
ATTACKS (comma list; default public-copy,lazy:0.1,sybil:3,grief:0,adaptive), JOBS (2),
EXTRA (more simulate flags). Per attack: the attackers' share of the score (%), the
accuracy change against the same seed without attackers (points), and where defined
the attackers' pay over their honest twins' (the same seed with everyone honest; this is
sybil_group_vs_original and lazy_vs_twin for those attacks) and grief_victim_pay_loss (%)."""
import json, os, statistics as st, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

M = os.environ.get('MERIT', 'target/debug/merit')
D = os.environ.get('DATA', 'digits.csv')


def run(args):
    cmd = [M, 'simulate', '--data', D, '--trainers', '10', '--json'] + args + os.environ.get('EXTRA', '').split()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        return {'error': out.stderr[-400:]}
    return json.loads(out.stdout)


def fmt(v, scale=1.0, digits=1):
    v = [x * scale for x in v if x is not None]
    if not v:
        return '—'
    sd = st.pstdev(v) if len(v) > 1 else 0.0
    return f"{st.mean(v):.{digits}f} ± {sd:.{digits}f}"


def main():
    rule = sys.argv[1] if len(sys.argv) > 1 else 'proven'
    seeds = [int(s) for s in os.environ.get('SEEDS', '1,2,3').split(',')]
    attacks = [a for a in os.environ.get('ATTACKS', 'public-copy,lazy:0.1,sybil:3,grief:0,adaptive').split(',') if a]
    frac = os.environ.get('FRACTION', '0.1')
    base = ['--rule', rule, '--rounds', os.environ.get('ROUNDS', '20'),
            '--local-epochs', os.environ.get('EPOCHS', '5'), '--byzantine', os.environ.get('F', '3'),
            '--alpha', os.environ.get('ALPHA', '0.5')]
    jobs = [(a, s, base + ['--seed', str(s), '--attack', f'{a}:{frac}']) for a in attacks for s in seeds]
    with ThreadPoolExecutor(int(os.environ.get('JOBS', '2'))) as ex:
        res = list(ex.map(lambda j: (j[0], j[1], run(j[2])), jobs))
    rows = {}
    for a, s, r in res:
        if 'error' in r:
            print('ERR', a, s, r['error'], file=sys.stderr)
            continue
        row = rows.setdefault(a, {'share': [], 'drop': [], 'sybil': [], 'lazy': [], 'grief': [], 'clean': [], 'twin': []})
        groups = r.get('groups', [])
        twin = sum(g['twin_score'] for g in groups)
        row['twin'].append(sum(g['total_score'] for g in groups) / twin if twin else None)
        row['share'].append(r['attacker_score_share'])
        row['drop'].append(r['final_accuracy'] - r['clean_accuracy'])
        row['clean'].append(r['clean_accuracy'])
        row['sybil'].append(r.get('sybil_group_vs_original'))
        row['lazy'].append(r.get('lazy_vs_twin'))
        row['grief'].append(r.get('grief_victim_pay_loss'))
        print(json.dumps({'attack': a, 'seed': s, 'share': r['attacker_score_share'],
                          'acc_change': r['final_accuracy'] - r['clean_accuracy'],
                          'sybil_group_vs_original': r.get('sybil_group_vs_original'),
                          'lazy_vs_twin': r.get('lazy_vs_twin'),
                          'grief_victim_pay_loss': r.get('grief_victim_pay_loss'),
                          'group_vs_twin': row['twin'][-1]}), file=sys.stderr)
    print(f"| attack ({frac} of 10, rule {rule}, seeds {','.join(map(str, seeds))}) | attackers' score share (%) | accuracy change (points) | attackers' pay ÷ their honest twins' | victim's pay lost (%) |")
    print('|---|---|---|---|---|')
    for a, r in rows.items():
        ratio = fmt(r['twin'], 1, 2)
        print(f"| {a} | {fmt(r['share'], 100)} | {fmt(r['drop'], 100)} | {ratio} | {fmt(r['grief'], 100)} |")


if __name__ == '__main__':
    main()
