//! `merit demo`'s rounds replayed offline for every slot order the join race can give:
//! the demo's spec, data shares, cast and seeds, the trainer node's update shaping and the
//! round rule, without chain, IPFS or proofs (issue #27's measurements in the README).
//!
//! cargo run -p merit-cli --example demo_orders -- DIGITS_CSV [ROUNDS]

use anyhow::{Context, Result};
use merit_cli::story::{demo_spec, split_digits, CAST, DEFAULT_ROUNDS};
use merit_protocol::fixed;
use merit_protocol::rule::{self, RuleParams};
use merit_trainer::behaviour::{self, Behaviour};
use merit_trainer::learner::{init_params, CandleModel, Learner};
use merit_trainer::node::round_seed;
use rand::SeedableRng;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let digits = args
        .next()
        .context("usage: demo_orders DIGITS_CSV [ROUNDS]")?;
    let rounds = match args.next() {
        Some(r) => r.parse().context("ROUNDS")?,
        None => DEFAULT_ROUNDS,
    };
    let spec = demo_spec(rounds)?;
    let (test, shares) = split_digits(digits.as_ref())?;
    let params = RuleParams::from_spec(&spec);
    let (scale, clip) = (spec.fixed_point.scale_bits, spec.training.clip_norm);
    let mut learner = CandleModel::from_spec(&spec);
    // The four racing trainers take slots 0–3 in some order; the copier joins last (slot
    // 4), and its reveal, set aside, is absent from the rule.
    let racing = CAST.len() - 1;
    let mut orders: Vec<Vec<u32>> = vec![vec![]];
    for _ in 0..racing {
        orders = orders
            .into_iter()
            .flat_map(|o| {
                (0..racing as u32)
                    .filter(|s| !o.contains(s))
                    .map(|s| [o.clone(), vec![s]].concat())
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    println!(
        "slots of {:?}: accuracy per round | total scores | rejected rounds | attackers' share",
        CAST[..racing]
            .iter()
            .map(|c| c.1.to_string())
            .collect::<Vec<_>>()
    );
    let (mut accs, mut att_shares) = (vec![], vec![]);
    for order in &orders {
        // The owner's initial model (seed 7), as `merit project create` makes it.
        let mut model = fixed::quantise_all(&init_params(&spec, 7), scale)?;
        let (mut totals, mut rejected) = (vec![0u64; racing], vec![0u32; racing]);
        let mut line = String::new();
        for round in 0..rounds {
            let global = fixed::dequantise_all(&model, scale)?;
            let mut updates: Vec<Option<Vec<i16>>> = vec![None; CAST.len()];
            for (i, &(_, b)) in CAST[..racing].iter().enumerate() {
                let slot = order[i];
                // As the trainer node does (seed = the story's node index, project 0).
                let seed = round_seed(i as u64, 0, round, slot);
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x006e_6f69_7365);
                let delta: Vec<f32> = if b.trains() {
                    let mut data = shares[i].clone();
                    if b == Behaviour::LabelFlip {
                        let classes = data.classes;
                        data.labels
                            .iter_mut()
                            .for_each(|l| *l = behaviour::flip_label(*l, classes));
                    }
                    let local = learner.train(&global, &data, seed, &mut |_, _| {})?;
                    local.iter().zip(&global).map(|(l, g)| l - g).collect()
                } else {
                    vec![0.0; global.len()]
                };
                updates[slot as usize] =
                    Some(behaviour::shape_update(b, &delta, clip, scale, &mut rng)?);
            }
            let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
            let out = rule::run(&params, &model, &refs)?;
            model = out.new_model;
            for i in 0..racing {
                let s = order[i] as usize;
                totals[i] += u64::from(out.decision.scores[s]);
                rejected[i] += u32::from(!out.decision.accepted[s]);
            }
            let acc = learner.accuracy(&fixed::dequantise_all(&model, scale)?, &test)?;
            line.push_str(&format!("{:.3} ", acc));
            if round + 1 == rounds {
                accs.push(acc);
            }
        }
        let all: u64 = totals.iter().sum();
        let attackers: u64 = (0..racing)
            .filter(|&i| !CAST[i].1.is_honest())
            .map(|i| totals[i])
            .sum();
        let share = if all == 0 {
            0.0
        } else {
            attackers as f64 / all as f64
        };
        att_shares.push(share);
        println!(
            "{order:?}: {line}| {totals:?} | {rejected:?} | {:.2} %",
            100.0 * share
        );
    }
    let range = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        (lo, v.iter().sum::<f64>() / v.len() as f64, hi)
    };
    let accs: Vec<f64> = accs.iter().map(|&a| f64::from(a)).collect();
    let (a0, a1, a2) = range(&accs);
    let (s0, s1, s2) = range(&att_shares);
    println!(
        "{} orders, {rounds} rounds: final accuracy {:.1}–{:.1} % (mean {:.1} %), attackers' share {:.2}–{:.2} % (mean {:.2} %)",
        orders.len(),
        100.0 * a0,
        100.0 * a2,
        100.0 * a1,
        100.0 * s0,
        100.0 * s2,
        100.0 * s1
    );
    Ok(())
}
