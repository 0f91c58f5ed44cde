"""The rule table of the README ("Measured: the rule that pays for contribution"): runs
`merit simulate --json` over seeds and attacks and prints mean ± sd per cell.

    MERIT=target/debug/merit DATA=digits.csv EPOCHS=5 SEEDS=1,2,3 python3 bench/rule_table.py "" proven

Environment: SEEDS, ROUNDS (20), EPOCHS (1), F (3), ATTACKS (comma list, each at FRACTION),
FRACTION (0.2), FAIR (1: also the power-law fairness run), EXTRA (more simulate flags).
The first argument is unused (kept for compatibility with the experiments' notes); the
second is the rule."""
import json, subprocess, sys, os, statistics as st
from concurrent.futures import ThreadPoolExecutor
M=os.environ.get('MERIT','target/debug/merit'); D=os.environ.get('DATA','digits.csv')
def run(x, args, rule='proven'):
    env=dict(os.environ)
    out=subprocess.run([M,'simulate','--data',D,'--trainers','10','--json','--rule',rule]+args+os.environ.get('EXTRA','').split(),capture_output=True,text=True,env=env)
    if out.returncode: return {'error':out.stderr[-300:]}
    return json.loads(out.stdout)
def evaluate(x, seeds, rounds, epochs, attacks, byz=3, rule='proven', fair=True):
    base=['--rounds',str(rounds),'--local-epochs',str(epochs),'--byzantine',str(byz)]
    jobs=[]
    for s in seeds:
        jobs.append(('clean',s,base+['--alpha','0.5','--seed',str(s)]))
        if fair: jobs.append(('fair',s,base+['--power-law','1.1','--fairness','--seed',str(s)]))
        for a in attacks:
            jobs.append((a,s,base+['--alpha','0.5','--seed',str(s),'--attack',a+':'+os.environ.get('FRACTION','0.2')]))
    with ThreadPoolExecutor(2) as ex:
        res=list(ex.map(lambda j:(j[0],j[1],run(x,j[2],rule)),jobs))
    out={}
    for k,s,r in res:
        if 'error' in r: print('ERR',k,s,r['error']); continue
        if k=='clean': out.setdefault('clean',[]).append(100*r['final_accuracy'])
        elif k=='fair': out.setdefault('fair',[]).append(r.get('fairness') or float('nan'))
        else:
            out.setdefault(k+'.share',[]).append(100*r['attacker_score_share'])
            out.setdefault(k+'.drop',[]).append(100*(r['clean_accuracy']-r['final_accuracy']))
    return out
if __name__=='__main__':
    x=sys.argv[1]; rule=sys.argv[2] if len(sys.argv)>2 else 'proven'
    seeds=[int(s) for s in os.environ.get('SEEDS','1,2').split(',')]
    rounds=int(os.environ.get('ROUNDS','20')); epochs=int(os.environ.get('EPOCHS','1'))
    attacks=os.environ.get('ATTACKS','label-flip,sign-flip,scale:10,free-rider,zero,stale-copy,replay').split(',')
    attacks=[a for a in attacks if a]
    o=evaluate(x,seeds,rounds,epochs,attacks,int(os.environ.get('F','3')),rule,os.environ.get('FAIR','1')=='1')
    fmt=lambda v: f"{st.mean(v):.1f}±{(st.pstdev(v) if len(v)>1 else 0):.1f}" if v else '-'
    print(f"[{x}|{rule}] " + "  ".join(f"{k}={fmt(v) if k!='fair' else ','.join(f'{a:.2f}' for a in v)}" for k,v in o.items()))
