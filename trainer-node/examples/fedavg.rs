//! Federated sanity check, no chain: the spec's model trained by N trainers on a split of a
//! labelled CSV, each round's updates clipped and quantised exactly as trainer nodes do,
//! then averaged (floored integer mean, as the round rule does with every update accepted).
//! Prints the test accuracy after each round.
//!
//! ```sh
//! cargo run -p merit-trainer --example fedavg -- digits.csv 4 20 [alpha|iid] [local_epochs]
//! ```

use merit_protocol::fixed;
use merit_protocol::spec::ProjectSpec;
use merit_trainer::data::{self, Partition};
use merit_trainer::learner::{self, CandleModel, Learner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, trainers, rounds, rest @ ..] = args.as_slice() else {
        return Err("usage: fedavg DATA.csv TRAINERS ROUNDS [ALPHA|iid] [LOCAL_EPOCHS]".into());
    };
    let (trainers, rounds): (usize, u32) = (trainers.parse()?, rounds.parse()?);
    let alpha: Option<f64> = rest
        .first()
        .filter(|a| *a != "iid")
        .map(|a| a.parse())
        .transpose()?;
    let mut spec = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json"))?;
    if let Some(e) = rest.get(1) {
        spec.training.local_epochs = e.parse()?;
    }
    let d = data::load_csv(std::path::Path::new(path), 64, 10)?;
    let (train, test) = merit_trainer::bench::holdout(&d);
    let all: Vec<usize> = (0..train.len()).collect();
    let how = alpha.map_or(Partition::Iid, |alpha| Partition::Dirichlet { alpha });
    let parts = data::partition(&train, &all, trainers, how, 10, 1)?;
    let shards: Vec<_> = parts.iter().map(|p| train.select(p)).collect();
    let s = spec.fixed_point.scale_bits;
    let mut model = fixed::quantise_all(&learner::init_params(&spec, 7), s)?;
    let mut m = CandleModel::from_spec(&spec);
    println!(
        "{trainers} trainers, {how:?}, {} local epoch(s), shard sizes {:?}",
        spec.training.local_epochs,
        parts.iter().map(Vec::len).collect::<Vec<_>>()
    );
    for round in 0..rounds {
        let global = fixed::dequantise_all(&model, s)?;
        let mut sum = vec![0i64; model.len()];
        let mut norms = Vec::new();
        for (t, shard) in shards.iter().enumerate() {
            let local = m.train(
                &global,
                shard,
                u64::from(round) << 8 | t as u64,
                &mut |_, _| {},
            )?;
            let delta: Vec<f32> = local.iter().zip(&global).map(|(l, g)| l - g).collect();
            norms.push(fixed::l2_norm(&delta));
            let u = fixed::clip_and_quantise(&delta, spec.training.clip_norm, s)?;
            sum.iter_mut()
                .zip(&u)
                .for_each(|(a, &b)| *a += i64::from(b));
        }
        let n = trainers as i64;
        for (g, total) in model.iter_mut().zip(&sum) {
            *g = (i64::from(*g) + total.div_euclid(n)).clamp(i16::MIN.into(), i16::MAX.into())
                as i16;
        }
        let acc = m.accuracy(&fixed::dequantise_all(&model, s)?, &test)?;
        let mean_norm = norms.iter().sum::<f64>() / norms.len() as f64;
        println!(
            "round {round:>3}: test accuracy {:.2} %  (mean update norm before clipping {mean_norm:.3})",
            100.0 * acc
        );
    }
    Ok(())
}
