"""An independent re-implementation of protocol/SPEC.md in plain Python 3 (stdlib only),
checked against every committed test vector: `python3 protocol/test-vectors/reference_check.py`.
It reads nothing but SPEC.md's rules and the two JSON files beside it."""
import json
import math, os
HERE = os.path.dirname(os.path.abspath(__file__))
P = json.load(open(os.path.join(HERE, 'poseidon-bn254-t3.json')))
V = json.load(open(os.path.join(HERE, 'v1.json')))
r = int(P['modulus'])
def fe(h): return int.from_bytes(bytes.fromhex(h), 'little')
def hx(x): return x.to_bytes(32, 'little').hex()
ARK = [[fe(h) for h in row] for row in P['ark']]
MDS = [[fe(h) for h in row] for row in P['mds']]
RF, RP = P['full_rounds'], P['partial_rounds']
def perm(s):
    s = s[:]
    for rnd in range(RF + RP):
        s = [(x + ARK[rnd][j]) % r for j, x in enumerate(s)]
        full = rnd < RF // 2 or rnd >= RF // 2 + RP
        if full: s = [pow(x, 5, r) for x in s]
        else: s[0] = pow(s[0], 5, r)
        s = [sum(MDS[i][j] * s[j] for j in range(3)) % r for i in range(3)]
    return s
def H(msg):
    s = [0, 0, 0]
    blocks = [msg[i:i+2] for i in range(0, len(msg), 2)]
    for k, blk in enumerate(blocks):
        for i, m in enumerate(blk): s[1 + i] = (s[1 + i] + m) % r
        if k < len(blocks) - 1: s = perm(s)
    s = perm(s)
    return s[1]
for ex in P['examples']:
    assert hx(H([fe(h) for h in ex['inputs']])) == ex['hash'], ex
def tag(t): return int.from_bytes(t.encode(), 'little')
def pack(vals):
    out = []
    for i in range(0, len(vals), 15):
        ch = vals[i:i+15] + [0] * (15 - len(vals[i:i+15]))
        out.append(sum((v + 32768) << (16 * j) for j, v in enumerate(ch)))
    return out
def acct(a): b = bytes.fromhex(a); return [int.from_bytes(b[:16], 'little'), int.from_bytes(b[16:], 'little')]
for c in V['cases']:
    pk = pack(c['values'])
    assert [hx(x) for x in pk] == c['packed']
    assert hx(H([tag('merit/update/v1')] + acct(c['account']) + [len(c['values'])] + pk)) == c['update_commitment']
    assert hx(H([tag('merit/model/v1'), len(c['values'])] + pk)) == c['model_commitment']
def rnd(R):
    n = len(R['updates'])
    e = [tag('merit/round/v2'), R['project'], R['round'], n, fe(R['prev_model'])]
    for a in R['trainers']: e += acct(a)
    e += [fe(u) for u in R['updates']] + R['scores'] + [int(a) for a in R['accepted']] + [fe(R['new_model'])]
    return hx(H(e))
assert rnd(V['round']) == V['round']['public_input']
for nr in V['rounds']: assert rnd(nr) == nr['public_input']
for q in V['rounding']:
    y = max(-40000.0, min(40000.0, q['units']))
    t = math.trunc(y); f = y - t
    v = t + (1 if y > 0 else -1) if abs(f) > 0.5 or (abs(f) == 0.5 and t % 2 != 0) else t
    assert max(-32768, min(32767, v)) == q['value'], q
print("independent re-implementation agrees with every vector")
