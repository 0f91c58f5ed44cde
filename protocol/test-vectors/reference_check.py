"""An independent re-implementation of protocol/SPEC.md in plain Python 3 (stdlib only),
checked against every committed test vector: `python3 protocol/test-vectors/reference_check.py`.
It reads nothing but SPEC.md's rules and the JSON files beside it (v3, rule v2, rule v5, round v3, round v5, v4, file v1, params v2, proof v1)."""
import json
import math, os
HERE = os.path.dirname(os.path.abspath(__file__))
def load(name): return json.load(open(os.path.join(HERE, name)))
V = load('v3.json')
def fe(h): return int.from_bytes(bytes.fromhex(h), 'little')
def hx(x): return x.to_bytes(32, 'little').hex()
class Sponge:
    """Poseidon (SPEC.md §3.3) and its padding-free sponge (§3.4), for any width."""
    def __init__(self, P):
        self.r = int(P['modulus']); self.t = P['width']; self.rate = P['rate']
        self.ark = [[fe(h) for h in row] for row in P['ark']]
        self.mds = [[fe(h) for h in row] for row in P['mds']]
        self.rf, self.rp = P['full_rounds'], P['partial_rounds']
        for ex in P['examples']:
            assert hx(self([fe(h) for h in ex['inputs']])) == ex['hash'], ex
    def perm(self, s):
        r, t = self.r, self.t
        for rnd in range(self.rf + self.rp):
            s = [(x + self.ark[rnd][j]) % r for j, x in enumerate(s)]
            if rnd < self.rf // 2 or rnd >= self.rf // 2 + self.rp: s = [pow(x, 5, r) for x in s]
            else: s[0] = pow(s[0], 5, r)
            s = [sum(self.mds[i][j] * s[j] for j in range(t)) % r for i in range(t)]
        return s
    def __call__(self, msg):
        s = [0] * self.t
        blocks = [msg[i:i + self.rate] for i in range(0, len(msg), self.rate)]
        for k, blk in enumerate(blocks):
            for i, m in enumerate(blk): s[1 + i] = (s[1 + i] + m) % self.r
            if k < len(blocks) - 1: s = self.perm(s)
        return self.perm(s)[1]
H = Sponge(load('poseidon-bn254-t3.json'))    # the round hash
W = Sponge(load('poseidon-bn254-t17.json'))   # commitments to vectors (v3)
for name, sp in (('poseidon', H), ('commitment_poseidon', W)):
    assert (V[name]['width'], V[name]['partial_rounds']) == (sp.t, sp.rp), name
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
    assert hx(W([tag('merit/update/v3')] + acct(c['account']) + [len(c['values'])] + pk)) == c['update_commitment']
    assert hx(W([tag('merit/model/v3'), len(c['values'])] + pk)) == c['model_commitment']
def rnd(R):
    n = len(R['updates'])
    e = [tag('merit/round/v3'), R['project'], R['round'], n, fe(R['prev_model'])]
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

# The round rule, from SPEC.md §6 alone (exact integers, no square roots).
RV = json.load(open(os.path.join(HERE, 'rule-v2.json')))
def largest_s(lhs_unit, rhs):  # largest s in [0, 1000] with s*s*lhs_unit <= rhs
    lo, hi = 0, 1000
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid * mid * lhs_unit <= rhs: lo = mid
        else: hi = mid - 1
    return lo
def cosm(g, a, b):  # the per-mille cosine of §6 step 4 (§6a's cos(g, a, b))
    if g == 0 or a == 0 or b == 0: return 0
    s = largest_s(a * b, 10**6 * g * g)
    return s if g > 0 else -s
def filt(c, present, G):  # §6 steps 1–5 on a Gram matrix G
    N = c['slots']; n = [G[i][i] for i in range(N)]
    b = [present[i] and 1 <= n[i] <= c['norm_bound_sq'] for i in range(N)]
    vals = sorted(n[i] for i in range(N) if b[i])
    m = vals[(len(vals) + 1) // 2 - 1] if vals else 0
    rho = c['band_sq_milli']
    e = [b[i] and 1000 * n[i] <= rho * m and 1000 * m <= rho * n[i] for i in range(N)]
    C = [[0 if i == k else cosm(G[i][k], n[i], n[k]) for k in range(N)] for i in range(N)]
    dup = [e[i] and any(k != i and e[k] and C[i][k] >= c['duplicate_milli'] for k in range(N)) for i in range(N)]
    fl = max(0, c['byzantine'] - sum(dup))
    return b, m, e, C, dup, fl, [i for i in range(N) if e[i] and not dup[i]]
def mean(prev, U, acc):  # §6 step 7
    cnt = sum(acc)
    S = [sum(u[j] for u, a in zip(U, acc) if a) for j in range(len(prev))]
    new = [g + (s // cnt if cnt else 0) for g, s in zip(prev, S)]
    assert all(-32768 <= v <= 32767 for v in new)
    return new
def rule(c):
    N = c['slots']
    U = [u if u is not None else [0] * c['dim'] for u in c['updates']]
    present = [u is not None for u in c['updates']]
    G = [[sum(a * b for a, b in zip(U[i], U[k])) for k in range(N)] for i in range(N)]
    n = [G[i][i] for i in range(N)]
    b, m, e, C, dup, fl, E = filt(c, present, G)
    krum = [0] * N; acc = [False] * N
    ran = len(E) >= fl + 3
    if ran:
        k = len(E) - fl - 2
        for i in E: krum[i] = sum(sorted(1000 - C[i][j] for j in E if j != i)[:k])
        for i in sorted(E, key=lambda i: (krum[i], i))[:len(E) - fl]: acc[i] = True
    new = mean(c['prev'], U, acc)
    tot = sum(G[k][l] for k in range(N) for l in range(N) if acc[k] and acc[l])
    scores = []
    for i in range(N):
        if not acc[i]: scores.append(0); continue
        t = sum(G[i][k] for k in range(N) if acc[k]) - n[i]
        q = tot - 2 * (t + n[i]) + n[i]
        scores.append(0 if t <= 0 or q == 0 else largest_s(n[i] * q, 10**6 * t * t))
    return dict(in_bound=b, median_norm=m, eligible=e, cosines=C, duplicate=dup, byzantine_left=fl,
                krum_ran=ran, krum=krum, accepted=acc, new_model=new, scores=scores)
assert RV['format'] == 'merit rule vectors v2'
for c in RV['cases']:
    got = rule(c)
    for key, val in got.items(): assert c[key] == val, (c['name'], key, c[key], val)

# The round rule v5 (SPEC.md §6a), from the text alone, over each case's rounds in order.
RV5 = load('rule-v5.json')
assert RV5['format'] == 'merit rule vectors v5'
def ramp(x, lo, hi): return min(1000, max(0, 1000 * (x - lo) // (hi - lo)))
def rule5(c, prev, U, present, last):   # last: the previous round's (reveals, reference, accepted), or None
    N = c['slots']; R = range(N)
    def dot(x, y): return sum(a * b for a, b in zip(x, y))
    G = [[dot(U[i], U[k]) for k in R] for i in R]; n = [G[i][i] for i in R]
    stale = [False] * N
    if last:                                                  # step 1
        p, ref, acc1 = last
        X = [[dot(U[i], p[k]) for k in R] for i in R]; P = [[dot(p[k], p[l]) for l in R] for k in R]
        A1 = [k for k in R if acc1[k]]; tot = sum(P[k][l] for k in A1 for l in A1)
        for i in (i for i in R if present[i]):
            ud = sum(X[i][k] for k in A1) - (X[i][i] if acc1[i] else 0)
            dd = tot - ((2 * sum(P[i][k] for k in A1) - P[i][i]) if acc1[i] else 0)
            stale[i] = (any(k != i and ref[k] and cosm(X[i][k], n[i], P[k][k]) >= c['stale_milli'] for k in R)
                        or dd > 0 and cosm(ud, n[i], dd) >= c['public_milli'])
    G1 = [[0 if stale[i] or stale[k] else G[i][k] for k in R] for i in R]
    _, m, _, C, _, fl, E = filt(c, [present[i] and not stale[i] for i in R], G1)   # step 2
    ne = len(E); ran = ne >= fl + 3
    krum, acc, phi = [0] * N, [False] * N, 0
    if ran:                                                   # step 3
        pairs = sorted(1000 - C[i][k] for x, i in enumerate(E) for k in E[x + 1:])
        if c['floor_quantile_milli']:
            phi = pairs[min(len(pairs) * c['floor_quantile_milli'] // 1000, len(pairs) - 1)]
        for i in E: krum[i] = sum(sorted(max(1000 - C[i][j], phi) for j in E if j != i)[:ne - fl - 2])
        for i in sorted(E, key=lambda i: (krum[i], i))[:ne - fl]: acc[i] = True
    wt = [largest_s(n[k], 10**6 * m) if acc[k] else 0 for k in R]; W = sum(wt)   # step 4
    new = [g + (sum(wt[k] * U[k][j] for k in R) // W if W else 0) for j, g in enumerate(prev)]
    assert all(-32768 <= v <= 32767 for v in new)
    si = [sum(G1[i][k] for k in E) for i in R]; s = sum(si[i] for i in E)   # step 5
    al = [cosm(si[i], n[i], s) if i in E else 0 for i in R]
    kap = [[ramp(cosm(1000 * C[i][k] - al[i] * al[k], 10**6 - al[i]**2, 10**6 - al[k]**2),
                 c['copy_lo_milli'], c['copy_hi_milli']) if i != k and i in E and k in E else 0 for k in R] for i in R]
    mult = [1000 + sum(row) for row in kap]
    r = [ramp(cosm(X[i][i], n[i], P[i][i]), c['self_lo_milli'], c['self_hi_milli'])   # step 6
         if last and c['self_hi_milli'] else 1000 for i in R]
    scores = [0] * N
    for i in (E if ran else []):                              # step 7
        Ai = [k for k in R if acc[k] and k != i]; w = [1000 - kap[i][k] for k in R]
        uo = sum(w[k] * G1[i][k] for k in Ai); oo = sum(w[k] * w[l] * G1[k][l] for k in Ai for l in Ai)
        if uo > 0 and oo > 0: scores[i] = min(10**6, 10**6 * uo * uo * r[i] // (n[i] * oo * mult[i]))
    return dict(stale=stale, candidates=[i in E for i in R], byzantine_left=fl, krum_ran=ran, floor=phi,
                krum=krum, accepted=acc, weights=wt, alignment=al, kappa=kap, multiplicity=mult, consistency=r,
                scores=scores, new_model=new)
for c in RV5['cases']:
    prev, last = c['prev'], None
    for t, rd in enumerate(c['rounds']):
        present = [u is not None for u in rd['updates']]
        U = [u if u is not None else [0] * c['dim'] for u in rd['updates']]
        got = rule5(c, prev, U, present, last)
        assert set(got) | {'updates'} == set(rd), (c['name'], t, set(rd) ^ set(got))
        for key, val in got.items(): assert rd[key] == val, (c['name'], t, key, rd[key], val)
        prev, last = got['new_model'], (U, [p and not x for p, x in zip(present, got['stale'])], got['accepted'])

# Chunked rounds (SPEC.md §9, protocol v4), from the updates alone.
V4 = load('v4.json')
assert V4['format'] == 'merit test vectors v4'
def signed(x): return x % H.r                      # a negative x enters as r − |x|
def chunked(c):
    N, D, C, rnd_ = c['slots'], c['dim'], c['chunk'], (c['project'], c['round'])
    K = -(-D // C)
    assert K == c['chunk_count']
    def piece(v, k): s = v[k * C:(k + 1) * C]; return s + [0] * (C - len(s))   # value 0
    def ck(v, k): return W([tag('merit/chunk/v4'), k, C] + pack(piece(v, k)))
    def chunks(v): return [ck(v, k) for k in range(K)]
    def model(cs): return H([tag('merit/model/v4'), D, K] + cs)
    out = rule(c)                                    # §6 on the whole vectors
    for key in ('accepted', 'scores', 'new_model'): assert c[key] == out[key], (c['name'], key)
    present = [u is not None for u in c['updates']]
    U = [u if u is not None else [0] * D for u in c['updates']]
    g, g2 = chunks(c['prev']), chunks(c['new_model'])
    assert [hx(x) for x in g] == c['prev_chunk_commitments']
    assert [hx(x) for x in g2] == c['new_chunk_commitments']
    assert hx(model(g)) == c['prev_model_commitment'] and hx(model(g2)) == c['new_model_commitment']
    cu = [chunks(u) if p else [] for u, p in zip(U, present)]
    assert [[hx(x) for x in cs] for cs in cu] == c['update_chunk_commitments']
    for i in range(N):
        want = hx(H([tag('merit/update/v4')] + acct(c['trainers'][i]) + [D, K] + cu[i])) if present[i] else None
        assert want == c['update_commitments'][i], (c['name'], i)
    grams = [[sum(a * b for a, b in zip(piece(U[i], k), piece(U[j], k))) for i in range(N) for j in range(i, N)]
             for k in range(K)]
    assert grams == c['grams']
    G = [sum(col) for col in zip(*grams)]
    assert G == c['gram_totals'] and all(abs(x) <= C << 30 for gk in grams for x in gk)
    acc = [int(a) for a in c['accepted']]
    for k in range(K):
        e = [tag('merit/chunk-round/v4'), *rnd_, k, N] + [cu[i][k] if present[i] else 0 for i in range(N)]
        e += [g[k], g2[k]] + acc + [signed(x) for x in grams[k]]
        assert hx(H(e)) == c['chunk_inputs'][k], (c['name'], k)
    e = [tag('merit/decision/v4'), *rnd_, N, c['byzantine'], min(c['norm_bound_sq'], D << 30),
         c['band_sq_milli'], c['duplicate_milli']] + [int(p) for p in present] + [signed(x) for x in G]
    e += acc + c['scores']
    assert hx(H(e)) == c['decision_input'], c['name']
for c in V4['chunked_rounds']: chunked(c)

# The model/update file (SPEC.md §7): encode from the fields, parse strictly.
import struct
FV = load('file-v1.json')
assert FV['format'] == 'merit file vectors v1'
def encode_file(f):
    out = b'MERITMDL' + struct.pack('<HBBH', 1, {'model': 0, 'update': 1}[f['kind']], f['scale_bits'], len(f['tensors']))
    for t in f['tensors']:
        name = t['name'].encode('utf-8')
        out += struct.pack('<H', len(name)) + name + struct.pack('<B', len(t['dims'])) + b''.join(struct.pack('<I', d) for d in t['dims'])
    out += struct.pack('<Q', len(f['values'])) + b''.join(struct.pack('<h', v) for v in f['values'])
    if f['floats'] is None: return out + b'\x00'
    return out + b'\x01' + b''.join(struct.pack('<f', x) for x in f['floats'])
def parse_file(b):
    at = 0
    def take(n):
        nonlocal at
        if at + n > len(b): raise ValueError('truncated')
        at += n; return b[at - n:at]
    def num(fmt): return struct.unpack('<' + fmt, take(struct.calcsize('<' + fmt)))[0]
    if take(8) != b'MERITMDL': raise ValueError('magic')
    if num('H') != 1: raise ValueError('version')
    kind = num('B')
    if kind > 1: raise ValueError('kind')
    scale = num('B')
    if scale > 15: raise ValueError('scale')
    n = num('H')
    if not 1 <= n <= 256: raise ValueError('tensor count')
    tensors, total = [], 0
    for _ in range(n):
        ln = num('H')
        if not 1 <= ln <= 128: raise ValueError('name length')
        name = take(ln).decode('utf-8')          # UnicodeDecodeError is a ValueError
        rank = num('B')
        if not 1 <= rank <= 8: raise ValueError('rank')
        dims = [num('I') for _ in range(rank)]
        if 0 in dims: raise ValueError('zero dim')
        total += math.prod(dims); tensors.append(dict(name=name, dims=dims))
    L = num('Q')
    if L > 1 << 24 or L != total: raise ValueError('parameter count')
    raw = take(2 * L); values = [struct.unpack_from('<h', raw, 2 * i)[0] for i in range(L)]
    flag, floats = num('B'), None
    if flag == 1:
        raw = take(4 * L); floats = [struct.unpack_from('<f', raw, 4 * i)[0] for i in range(L)]
        if not all(math.isfinite(x) for x in floats): raise ValueError('not finite')
    elif flag != 0: raise ValueError('float flag')
    if at != len(b): raise ValueError('trailing bytes')
    return dict(kind=['model', 'update'][kind], scale_bits=scale, tensors=tensors, values=values, floats=floats)
def f32(x): return struct.unpack('<f', struct.pack('<f', x))[0]
for f in FV['files']:
    b = bytes.fromhex(f['bytes'])
    assert encode_file(f) == b, f['name']
    got = parse_file(b)
    want = {k: f[k] for k in got}
    want['floats'] = None if f['floats'] is None else [f32(x) for x in f['floats']]
    assert got == want, f['name']
    pk = pack(f['values'])
    if f['kind'] == 'update':
        c = W([tag('merit/update/v3')] + acct(f['account']) + [len(f['values'])] + pk)
    else:
        c = W([tag('merit/model/v3'), len(f['values'])] + pk)
    assert hx(c) == f['commitment'], f['name']
for f in FV['invalid']:
    try: parse_file(bytes.fromhex(f['bytes']))
    except ValueError: continue
    raise AssertionError('accepted an invalid file: ' + f['name'])

# The rule's parameters from a spec's JSON (SPEC.md §6).
PV = load('params-v2.json')
assert PV['format'] == 'merit parameter vectors v2'
def round_away(x):                                   # round(): ties away from zero
    t = math.trunc(x)
    return t + (1 if x > 0 else -1) if abs(x - t) >= 0.5 else t
def dim(m):                                          # D, the parameter count (SPEC.md §7.1)
    if m['type'] == 'mlp':
        widths = [m['input']] + m['hidden'] + [m['classes']]
        return sum(i * o + o for i, o in zip(widths, widths[1:]))
    assert m['type'] == 'cnn'
    c, h, w = m['input']['channels'], m['input']['height'], m['input']['width']
    flat, D = None, 0
    for l in m['layers']:
        t = l['type']
        if t == 'conv2d':
            k, s, p = l['kernel'], l.get('stride', 1), l.get('padding', 0)
            D += l['out_channels'] * c * k * k + l['out_channels']
            c, h, w = l['out_channels'], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        elif t == 'max_pool2d':
            assert h % l['size'] == 0 and w % l['size'] == 0
            h, w = h // l['size'], w // l['size']
        elif t == 'flatten':
            flat = c * h * w
        elif t == 'linear':
            D += l['out'] * flat + l['out']; flat = l['out']
    assert flat == m['classes']
    return D
def params(text):
    j = json.loads(text)                             # each number: nearest binary64 …
    a, s = j['aggregation'], j['fixed_point']['scale_bits']
    clip, nb = f32(j['training']['clip_norm']), f32(a['norm_bound'])   # … then binary32
    band, dup = f32(a.get('norm_band', 6.0)), f32(a.get('duplicate_cosine', 1.01))
    D = dim(j['model'])
    w = clip * 2.0 ** s + math.sqrt(D) / 2
    least = f32(f32(math.ceil((w / 2.0 ** s) * 1000)) / f32(1000))
    u = nb * 2.0 ** s
    sq = u * u
    B2 = 0 if not u > 0 else (2**64 - 1 if sq >= 2.0**64 else math.floor(sq))
    r2 = (band * band) * 1000
    rho2 = 1000 if math.isnan(r2) else min(max(round_away(r2), 1000), 10**9)
    v = round_away(1000 * dup)
    tau = 1001 if v > 1000 else max(v, 0)
    refused = []
    if not (math.isfinite(nb) and nb > 0) or nb < least: refused.append('aggregation.norm_bound')
    if not (math.isfinite(band) and 1 <= band <= 1000): refused.append('aggregation.norm_band')
    if not (math.isfinite(dup) and dup > 0): refused.append('aggregation.duplicate_cosine')
    if not 1 <= a['slots'] <= 64: refused.append('aggregation.slots')
    if a['slots'] < 2 * a['byzantine'] + 3: refused.append('aggregation.byzantine')
    return dict(dim=D, least_norm_bound=least, refused=refused, slots=a['slots'], byzantine=a['byzantine'],
                norm_bound_sq=B2, band_sq_milli=rho2, duplicate_milli=tau)
for c in PV['cases']:
    got = params(c['spec'])
    want = {k: c[k] for k in got}; want['least_norm_bound'] = f32(c['least_norm_bound'])
    assert got == want, (c['name'], got, want)

# One v3 round end to end (SPEC.md §4–6): updates → the rule → commitments → public input.
RV3 = load('round-v3.json')
assert RV3['format'] == 'merit round vectors v3'
for c in RV3['rounds']:
    out = rule(c)
    for key in ('accepted', 'scores', 'new_model'): assert c[key] == out[key], (c['name'], key)
    def cm(v): return W([tag('merit/model/v3'), len(v)] + pack(v))
    cu = [hx(W([tag('merit/update/v3')] + acct(a) + [len(u)] + pack(u))) if u is not None else hx(0)
          for a, u in zip(c['trainers'], c['updates'])]
    assert cu == c['update_commitments'] and hx(cm(c['prev'])) == c['prev_model_commitment']
    assert hx(cm(c['new_model'])) == c['new_model_commitment']
    assert rnd(dict(project=c['project'], round=c['round'], prev_model=c['prev_model_commitment'],
                    trainers=c['trainers'], updates=cu, scores=c['scores'], accepted=c['accepted'],
                    new_model=c['new_model_commitment'])) == c['public_input'], c['name']
# The v5 round statement (SPEC.md §6a), round by round from rule-v5.json's inputs and rule5.
RR5 = load('round-v5.json')
assert RR5['format'] == 'merit round vectors v5'
assert [c['name'] for c in RR5['cases']] == [c['name'] for c in RV5['cases']]
def cm(v): return W([tag('merit/model/v3'), len(v)] + pack(v))
for c, rc in zip(RV5['cases'], RR5['cases']):
    N, prev, last = c['slots'], c['prev'], None
    assert len(rc['trainers']) == N and len(rc['rounds']) == len(c['rounds'])
    accts = [x for a in rc['trainers'] for x in acct(a)]
    primed = [0] * (5 * N + 2)                       # has_previous = 0, then the 5N + 1 primed zeros
    for t, (rd, st) in enumerate(zip(c['rounds'], rc['rounds'])):
        present = [u is not None for u in rd['updates']]
        U = [u if u is not None else [0] * c['dim'] for u in rd['updates']]
        got = rule5(c, prev, U, present, last)
        cu = [W([tag('merit/update/v3')] + acct(a) + [len(u)] + pack(u)) if p else 0
              for a, u, p in zip(rc['trainers'], U, present)]
        ref = [int(p and not x) for p, x in zip(present, got['stale'])]
        gh = H([tag('merit/gram/v5'), N] + [signed(sum(a * b for a, b in zip(U[i], U[k])))
                                            for i in range(N) for k in range(i, N)])
        acc = [int(a) for a in got['accepted']]
        e = [tag('merit/round/v5'), rc['project'], st['round'], N, cm(prev)] + accts + cu + got['scores'] + acc
        e += [cm(got['new_model'])] + ref + [gh] + primed
        assert len(e) == 11 * N + 9 and st['round'] == t + 1, (rc['name'], t)
        assert hx(cm(prev)) == st['prev_model_commitment'], (rc['name'], t)
        assert [hx(x) for x in cu] == st['update_commitments'], (rc['name'], t)
        assert hx(cm(got['new_model'])) == st['new_model_commitment'], (rc['name'], t)
        assert [bool(x) for x in ref] == st['reference'] and hx(gh) == st['gram_hash'], (rc['name'], t)
        assert hx(H(e)) == st['public_input'], (rc['name'], t)
        primed = [1] + accts + cu + ref + acc + [gh]
        prev, last = got['new_model'], (U, ref, got['accepted'])
# Groth16 over BN254 (SPEC.md §12): decode the compressed key and proofs, check the
# pairing equation with an optimal ate pairing written from the textbook (no library).
PV12 = load('proof-groth16.json')
assert PV12['format'] == 'merit proof vectors v1'
P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
R_ORDER = H.r
def f2mul(a, b): return ((a[0]*b[0] - a[1]*b[1]) % P, (a[0]*b[1] + a[1]*b[0]) % P)
def f2add(a, b): return ((a[0]+b[0]) % P, (a[1]+b[1]) % P)
def f2sub(a, b): return ((a[0]-b[0]) % P, (a[1]-b[1]) % P)
def f2neg(a): return (-a[0] % P, -a[1] % P)
def f2inv(a):
    n = pow(a[0]*a[0] + a[1]*a[1], P - 2, P)
    return (a[0]*n % P, -a[1]*n % P)
def f2pow(a, e):
    out = (1, 0)
    while e:
        if e & 1: out = f2mul(out, a)
        a = f2mul(a, a); e >>= 1
    return out
def f2conj(a): return (a[0], -a[1] % P)
XI = (9, 1)                                          # ξ = 9 + i; the twist is y² = x³ + 3/ξ
B2 = f2mul((3, 0), f2inv(XI))
def f2sqrt(a):                                       # p ≡ 3 (mod 4): Adj–Rodríguez-Henríquez, alg. 9
    a1 = f2pow(a, (P - 3) // 4)
    alpha = f2mul(a1, f2mul(a1, a))
    x0 = f2mul(a1, a)
    if alpha == (P - 1, 0): x = f2mul((0, 1), x0)
    else: x = f2mul(f2pow(f2add((1, 0), alpha), (P - 1) // 2), x0)
    if f2mul(x, x) != a: raise ValueError('not a square')
    return x
def g1(b):                                           # 32 bytes: x LE, flags in byte 31's top bits
    if len(b) != 32: raise ValueError('length')
    flags, x = b[31] >> 6, int.from_bytes(b[:31] + bytes([b[31] & 0x3f]), 'little')
    if flags & 1: return None                        # bit 6: the point at infinity
    if x >= P: raise ValueError('non-canonical')
    y = pow(x**3 + 3, (P + 1) // 4, P)
    if y * y % P != (x**3 + 3) % P: raise ValueError('not on the curve')
    if (y > P - y) != bool(flags & 2): y = P - y      # bit 7: y is the larger of ±y
    return (x, y)
def g2(b):                                           # 64 bytes: x = c0 + c1·i, c0 then c1
    if len(b) != 64: raise ValueError('length')
    flags = b[63] >> 6
    c0, c1 = int.from_bytes(b[:32], 'little'), int.from_bytes(b[32:63] + bytes([b[63] & 0x3f]), 'little')
    if flags & 1: return None
    if c0 >= P or c1 >= P: raise ValueError('non-canonical')
    x = (c0, c1)
    y = f2sqrt(f2add(f2mul(x, f2mul(x, x)), B2))
    ny = f2neg(y)
    if ((y[1], y[0]) > (ny[1], ny[0])) != bool(flags & 2): y = ny   # compare c1, then c0
    return (x, y)
def g1_add(p1, p2):
    if p1 is None: return p2
    if p2 is None: return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0: return None
        m = 3 * x1 * x1 * pow(2 * y1, P - 2, P) % P
    else: m = (y2 - y1) * pow(x2 - x1, P - 2, P) % P
    x3 = (m * m - x1 - x2) % P
    return (x3, (m * (x1 - x3) - y1) % P)
def g1_mul(pt, k):
    out = None
    while k:
        if k & 1: out = g1_add(out, pt)
        pt = g1_add(pt, pt); k >>= 1
    return out
def g2_mul(pt, k):
    out = None
    while k:
        if k & 1: out = g2_add(out, pt)[0]
        pt = g2_add(pt, pt)[0]; k >>= 1
    return out
def g2_add(p1, p2):                                  # also returns the slope (None: vertical)
    if p1 is None: return p2, None
    if p2 is None: return p1, None
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if f2add(y1, y2) == (0, 0): return None, None
        m = f2mul(f2mul((3, 0), f2mul(x1, x1)), f2inv(f2add(y1, y1)))
    else: m = f2mul(f2sub(y2, y1), f2inv(f2sub(x2, x1)))
    x3 = f2sub(f2sub(f2mul(m, m), x1), x2)
    return (x3, f2sub(f2mul(m, f2sub(x1, x3)), y1)), m
# F_p12 = F_p[w]/(w^12 − 18w^6 + 82), with i = w^6 − 9 (so w^6 = ξ): lists of 12 integers.
def f12mul(a, b):
    c = [0] * 23
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b): c[i + j] += x * y
    for k in range(22, 11, -1):
        c[k - 6] += 18 * c[k]; c[k - 12] -= 82 * c[k]
    return [x % P for x in c[:12]]
def f12pow(a, e):
    out = [1] + [0] * 11
    while e:
        if e & 1: out = f12mul(out, a)
        a = f12mul(a, a); e >>= 1
    return out
def emb(a, k, out):                                  # out += (a0 + a1·i)·w^k, i = w^6 − 9
    out[k] += a[0] - 9 * a[1]; out[k + 6] += a[1]
def line(t, m, pt):                                  # the line through the twisted point t (slope m) at the G1 point pt
    x1, y1 = t; xt, yt = pt
    out = [0] * 12
    if m is None:                                    # vertical: xt − x1·w²
        out[0] = xt; emb(f2neg(x1), 2, out)
    else:                                            # m·w·(xt − x1·w²) − (yt − y1·w³)
        out[0] = -yt; emb(f2mul(m, (xt, 0)), 1, out); emb(f2sub(y1, f2mul(m, x1)), 3, out)
    return [x % P for x in out]
ATE = 29793968203157093288                           # 6u + 2, u = 4965661367192848881
G_X, G_Y = f2pow(XI, (P - 1) // 3), f2pow(XI, (P - 1) // 2)
def frob(q): return (f2mul(f2conj(q[0]), G_X), f2mul(f2conj(q[1]), G_Y))
def miller(q, pt):
    f, r = [1] + [0] * 11, q
    for i in range(ATE.bit_length() - 2, -1, -1):
        r2, m = g2_add(r, r)
        f = f12mul(f12mul(f, f), line(r, m, pt)); r = r2
        if ATE >> i & 1:
            r2, m = g2_add(r, q)
            f = f12mul(f, line(r, m, pt)); r = r2
    q1 = frob(q); q2 = frob(q1); q2 = (q2[0], f2neg(q2[1]))
    r2, m = g2_add(r, q1); f = f12mul(f, line(r, m, pt)); r = r2
    r2, m = g2_add(r, q2); f = f12mul(f, line(r, m, pt))
    return f
def pairing_product_is_one(pairs):
    f = [1] + [0] * 11
    for pt, q in pairs:
        if pt is not None and q is not None: f = f12mul(f, miller(q, pt))   # e(O, ·) = 1
    return f12pow(f, (P**12 - 1) // R_ORDER) == [1] + [0] * 11
def groth16(vk, proof, x):
    """The check of SPEC.md §12: False for a well-formed proof of something else; raises
    ValueError for bytes that are not a key or a proof."""
    if len(vk) != 296 or len(proof) != 128: raise ValueError('length')
    alpha, beta, gamma, delta = g1(vk[:32]), g2(vk[32:96]), g2(vk[96:160]), g2(vk[160:224])
    if int.from_bytes(vk[224:232], 'little') != 2: raise ValueError('not one public input')
    ic = [g1(vk[232:264]), g1(vk[264:296])]
    a, b, c = g1(proof[:32]), g2(proof[32:96]), g1(proof[96:])
    for q in (beta, gamma, delta, b):
        if q is not None and g2_mul(q, R_ORDER) is not None: raise ValueError('G2 point outside the subgroup')
    if not 0 <= x < R_ORDER: raise ValueError('input not a field element')
    l = g1_add(ic[0], g1_mul(ic[1], x))
    neg_a = a and (a[0], -a[1] % P)
    return pairing_product_is_one([(neg_a, b), (alpha, beta), (l, gamma), (c, delta)])
VK = bytes.fromhex(PV12['verifying_key'])
for c in PV12['cases']:
    try: got = 'accept' if groth16(VK, bytes.fromhex(c['proof']), fe(c['public_input'])) else 'reject'
    except ValueError: got = 'malformed'
    assert got == c['result'], (c['name'], got)
print("independent re-implementation agrees with every vector")
