use super::*;
use merit_aggregator::rules::RuleOutcome;
use merit_protocol::spec::ModelArch;

/// The example spec, shrunk to 4 features, 3 classes and an 8-unit hidden layer.
fn spec() -> ProjectSpec {
    let mut s = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json"))
        .expect("the example spec");
    s.features.inputs = 4;
    s.features.classes = 3;
    s.model = ModelArch::Mlp {
        input: 4,
        hidden: vec![8],
        classes: 3,
    };
    s.training.batch_size = 8;
    s.training.learning_rate = 0.3;
    s.training.local_epochs = 2;
    s
}

/// Three Gaussian blobs in 4-D (class `l` centred on axis `l`, σ = 0.3), seeded.
fn blobs(rows: usize, seed: u64) -> Dataset {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut d = Dataset::new(4, 3);
    for i in 0..rows {
        let l = i % 3;
        let mut x = behaviour::gaussian(4, 0.3, &mut rng);
        x[l] += 1.0;
        d.push(&x, l as u32);
    }
    d
}

fn config(rule: RuleKind, attack: Option<&str>) -> SimConfig {
    let mut c = SimConfig::new(spec(), blobs(300, 5), 5);
    c.rounds = 4;
    c.rule = rule;
    c.attack = attack.map(|a| a.parse().unwrap());
    c
}

#[test]
fn attacks_and_rules_parse() {
    let a: Attack = "scale:10:0.2".parse().unwrap();
    assert_eq!(a.behaviour, Behaviour::Scale(10.0));
    assert_eq!((a.fraction, a.count(10)), (0.2, 2));
    let a: Attack = "label-flip:0.25".parse().unwrap();
    assert_eq!((a.behaviour, a.count(10)), (Behaviour::LabelFlip, 3));
    assert_eq!("zero:0".parse::<Attack>().unwrap().count(10), 0);
    assert_eq!("zero:1".parse::<Attack>().unwrap().count(7), 7);
    for bad in ["zero", "zero:1.5", "zero:-0.1", "zero:x", "sybil:0.1"] {
        assert!(bad.parse::<Attack>().is_err(), "{bad}");
    }
    for k in RuleKind::ALL {
        assert_eq!(k.to_string().parse::<RuleKind>(), Ok(k));
        assert_eq!(serde_json::to_value(k).unwrap(), k.to_string());
    }
    assert_eq!(RuleKind::FedAvg.to_string(), "fedavg");
    // The message lists every name, in `RuleKind::ALL`'s order.
    assert_eq!(
        "krum".parse::<RuleKind>().unwrap_err().to_string(),
        "unknown rule \"krum\": expected proven, multi-krum-v1, fedavg, median, trimmed-mean, \
         reputation, v5, validation-gate or v5-validation-gate"
    );
}

#[test]
fn honest_rounds_improve_on_the_initial_model() {
    for rule in [RuleKind::Proven, RuleKind::FedAvg] {
        let r = simulate(&config(rule, None)).unwrap();
        assert!(
            r.final_accuracy > r.initial_accuracy + 0.2,
            "{rule}: {} -> {}",
            r.initial_accuracy,
            r.final_accuracy
        );
        assert_eq!(r.clean_accuracy, r.final_accuracy, "no attackers");
        assert_eq!((r.attackers, r.attacker_score_share), (0, 0.0));
        assert_eq!(r.accuracy.len(), 4);
    }
}

#[test]
fn fairness_on_a_power_law_split() {
    let mut c = config(RuleKind::Proven, None);
    c.power_law = Some(1.0);
    c.fairness = true;
    let r = simulate(&c).unwrap();
    let sizes: Vec<usize> = r.per_trainer.iter().map(|t| t.samples).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    assert!(r.per_trainer.iter().all(|t| t
        .standalone_accuracy
        .is_some_and(|a| (0.0..=1.0).contains(&a))));
    let f = r.fairness.expect("defined with five trainers");
    assert!((-1.0..=1.0).contains(&f), "{f}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["power_law"], 1.0);
    assert!(json["per_trainer"][0]["standalone_accuracy"].is_number());
    // Without --fairness nothing is trained alone.
    c.fairness = false;
    assert!(simulate(&c).unwrap().fairness.is_none());
}

#[test]
fn pearson_is_the_textbook_correlation() {
    assert_eq!(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
    assert_eq!(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
    let r = pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
    assert!((r - 0.8).abs() < 1e-12, "{r}");
    assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None, "no spread");
    assert_eq!(pearson(&[1.0], &[1.0]), None);
}

#[test]
fn free_riders_earn_less_than_their_headcount_under_the_proven_rule() {
    for attack in ["zero:0.4", "free-rider:0.4"] {
        let r = simulate(&config(RuleKind::Proven, Some(attack))).unwrap();
        assert_eq!(r.attackers, 2);
        assert!(r.per_trainer[3].attacker && !r.per_trainer[2].attacker);
        assert!(
            r.attacker_score_share < r.attacker_headcount_share,
            "{attack}: {} of the score for {} of the trainers",
            r.attacker_score_share,
            r.attacker_headcount_share
        );
        if attack.starts_with("zero") {
            // cos(0, S) is 0 by definition: a zero update never scores.
            assert_eq!(r.attacker_score_share, 0.0);
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let c = config(RuleKind::Median, Some("noise:1:0.2"));
    assert_eq!(simulate(&c).unwrap(), simulate(&c).unwrap());
}

#[test]
fn copiers_are_absent_and_the_json_has_the_documented_keys() {
    let r = simulate(&config(RuleKind::TrimmedMean, Some("copy:0:0.2"))).unwrap();
    let last = &r.per_trainer[4];
    assert_eq!((last.behaviour.as_str(), last.accepts), ("copy:0", 0));
    let v = serde_json::to_value(&r).unwrap();
    for key in [
        "final_accuracy",
        "clean_accuracy",
        "attacker_score_share",
        "rounds",
        "rule",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(v["rule"], "trimmed-mean");
    let t = &v["per_trainer"][4];
    for key in ["behaviour", "total_score", "accepts", "samples"] {
        assert!(t.get(key).is_some(), "{key}");
    }
}

#[test]
fn a_wrong_data_shape_is_refused() {
    let mut c = config(RuleKind::FedAvg, None);
    c.data = Dataset::new(5, 3);
    assert!(matches!(simulate(&c), Err(SimError::DataShape { .. })));
    c.trainers = 0;
    assert!(matches!(simulate(&c), Err(SimError::NoTrainers)));
}

#[test]
fn sybils_take_k_slots_and_are_compared_with_their_twin() {
    let r = simulate(&config(RuleKind::Proven, Some("sybil:3:0.2"))).unwrap();
    assert_eq!((r.attackers, r.accounts, r.per_trainer.len()), (1, 7, 7));
    let trainers: Vec<usize> = r.per_trainer.iter().map(|t| t.trainer).collect();
    assert_eq!(trainers, [0, 1, 2, 3, 4, 4, 4]);
    assert!(r.per_trainer[4..]
        .iter()
        .all(|t| t.attacker && t.behaviour == "sybil:3"));
    let g = &r.groups[0];
    assert_eq!((g.trainer, g.slots.as_slice()), (4, &[4, 5, 6][..]));
    let group: u64 = r.per_trainer[4..].iter().map(|t| t.total_score).sum();
    assert_eq!(g.total_score, group);
    assert_eq!(Some(g.twin_score), r.per_trainer[4].twin_score);
    assert!(g.twin_score > 0, "the honest twin earns");
    assert_eq!(r.sybil_group_vs_original, ratio(group, g.twin_score));
    assert!((r.attacker_score_share - g.score_share).abs() < 1e-12);
    assert!(r.lazy_vs_twin.is_none() && r.grief_victim_pay_loss.is_none());
    let v = serde_json::to_value(&r).unwrap();
    assert!(v["sybil_group_vs_original"].is_number());
    assert!(v["groups"][0]["score_share"].is_number());
}

#[test]
fn a_searching_sybil_group_is_compared_with_its_twin() {
    let r = simulate(&config(RuleKind::V5, Some("sybil-search:3:0.2"))).unwrap();
    assert_eq!((r.attackers, r.accounts), (1, 7));
    assert!(r.per_trainer[4..]
        .iter()
        .all(|t| t.attacker && t.trainer == 4 && t.behaviour == "sybil-search:3"));
    let g = &r.groups[0];
    assert_eq!(g.slots, [4, 5, 6]);
    assert_eq!(
        r.sybil_group_vs_original,
        ratio(g.total_score, g.twin_score)
    );
    assert!(r.sybil_group_vs_original.is_some());
    // The copies differ from `sybil:3`'s (kept directions, a searched cosine).
    let fixed = simulate(&config(RuleKind::V5, Some("sybil:3:0.2"))).unwrap();
    let scores = |r: &SimReport| -> Vec<Vec<u32>> {
        r.per_trainer[4..]
            .iter()
            .map(|t| t.scores.clone())
            .collect()
    };
    assert_ne!(scores(&r), scores(&fixed));
}

#[test]
fn lazy_and_grief_report_their_twin_ratios() {
    let r = simulate(&config(RuleKind::Proven, Some("lazy:0.1:0.2"))).unwrap();
    let g = &r.groups[0];
    assert_eq!(r.lazy_vs_twin, ratio(g.total_score, g.twin_score));
    assert!(r.lazy_vs_twin.is_some());
    let r = simulate(&config(RuleKind::Proven, Some("grief:1:0.2"))).unwrap();
    let victim = &r.per_trainer[1];
    let twin = victim.twin_score.expect("a twin run");
    let loss = r.grief_victim_pay_loss.expect("grief");
    assert!((loss - (1.0 - victim.total_score as f64 / twin as f64)).abs() < 1e-12);
    let mut c = config(RuleKind::Proven, Some("grief:9:0.2"));
    assert!(matches!(
        simulate(&c),
        Err(SimError::GriefTarget {
            victim: 9,
            slots: 5
        })
    ));
    c.attack = Some("sybil:16:1".parse().unwrap());
    assert!(matches!(
        simulate(&c),
        Err(SimError::TooManyAccounts { accounts: 80, .. })
    ));
}

#[test]
fn public_copy_and_adaptive_run_without_training_their_own_share() {
    for attack in ["public-copy:0.2", "adaptive:0.4", "adaptive:damage:0.4"] {
        let r = simulate(&config(RuleKind::Proven, Some(attack))).unwrap();
        assert_eq!(r.accuracy.len(), 4, "{attack}");
        assert!(r.groups.iter().all(|g| g.twin_score > 0), "{attack}");
    }
}

/// v5 keeps history; the adaptive search forks it with that history, and a griefer's copy
/// of slot 0's previous reveal is stale instead of dropping slot 0.
#[test]
fn v5_runs_against_the_red_team() {
    let r = simulate(&config(RuleKind::V5, Some("adaptive:0.2"))).unwrap();
    assert_eq!((r.rule.to_string().as_str(), r.accuracy.len()), ("v5", 4));
    let r = simulate(&config(RuleKind::V5, Some("grief:0:0.2"))).unwrap();
    let griefer = &r.per_trainer[4];
    // Round 0 has no previous reveal to copy (it sends noise); later rounds are stale.
    assert!(griefer.scores[1..].iter().all(|&s| s == 0), "{griefer:?}");
    assert!(r.per_trainer[0].total_score > 0);
}

/// A public change `d` and six previous reveals that lean along it, with noise `sigma`.
fn leaning_reveals(
    dim: usize,
    sigma: f64,
    rng: &mut rand::rngs::StdRng,
) -> (Vec<f32>, Vec<Option<Vec<i16>>>) {
    let d: Vec<f32> = (0..dim).map(|i| ((i % 5) as f32 - 2.0) * 0.05).collect();
    let proxies = (0..6)
        .map(|_| {
            let e = behaviour::gaussian(dim, sigma, rng);
            let v: Vec<f32> = d.iter().zip(&e).map(|(a, b)| a + b).collect();
            Some(fixed::quantise_all(&v, 10).unwrap())
        })
        .collect();
    (d, proxies)
}

/// What the search tests share: six slots whose previous reveals lean along `d`
/// ([`leaning_reveals`], `DIM` values), one Byzantine, the proven rule.
struct SearchBench {
    d: Vec<f32>,
    proxies: Vec<Option<Vec<i16>>>,
    params: RuleParams,
}

const DIM: usize = 64;

impl SearchBench {
    fn new(sigma: f64, rng: &mut rand::rngs::StdRng) -> Self {
        let (d, proxies) = leaning_reveals(DIM, sigma, rng);
        let params = RuleParams::new(6, DIM, 1, 1 << 40);
        Self { d, proxies, params }
    }

    /// A zero global model.
    fn model(&self) -> Vec<i16> {
        vec![0; DIM]
    }

    /// The public information on `model`: `d` as last change, at its own length.
    fn public<'a>(&'a self, model: &'a [i16]) -> redteam::Public<'a> {
        redteam::Public {
            model,
            change: Some(&self.d),
            proxies: &self.proxies,
            median: Some(fixed::l2_norm(&self.d)),
        }
    }
}

/// Pays an update only within cosine 0.9 of `target` (a stand-in for a rule that pays
/// self-consistency with one's own previous reveal).
struct PaysNear {
    target: Vec<i16>,
}

impl Rule for PaysNear {
    fn name(&self) -> &'static str {
        "pays-near"
    }

    fn aggregate(
        &mut self,
        prev: &[i16],
        updates: &[Option<Vec<i16>>],
    ) -> Result<RuleOutcome, merit_protocol::rule::RuleError> {
        use merit_protocol::rule::{dot, norm_sq};
        let t = norm_sq(&self.target) as f64;
        let scores = updates
            .iter()
            .map(|u| {
                u.as_ref().map_or(0, |u| {
                    let c = dot(u, &self.target) as f64 / (norm_sq(u) as f64 * t).sqrt();
                    if c >= 0.9 {
                        1000
                    } else {
                        0
                    }
                })
            })
            .collect();
        Ok(RuleOutcome {
            new_model: prev.to_vec(),
            accepted: vec![true; updates.len()],
            scores,
        })
    }
}

/// The attacker's own previous reveal is among what it searches: against a rule that
/// pays only updates near it, the search finds one.
#[test]
fn the_adaptive_search_tries_its_own_previous_reveal() {
    let dim = 64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let (d, mut proxies) = leaning_reveals(dim, 0.04, &mut rng);
    // Its own last reveal: a direction of its own, far from `d` and the others.
    let mine = behaviour::gaussian(dim, 0.1, &mut rng);
    proxies[5] = Some(fixed::quantise_all(&mine, 10).unwrap());
    let target = proxies[5].clone().unwrap();
    let build = || -> Box<dyn Rule> {
        Box::new(PaysNear {
            target: target.clone(),
        })
    };
    let model = vec![0i16; dim];
    let public = redteam::Public {
        model: &model,
        change: Some(&d),
        proxies: &proxies,
        median: Some(fixed::l2_norm(&d)),
    };
    let own = behaviour::gaussian(dim, 0.05, &mut rng);
    let choice = redteam::search(
        &build,
        5,
        &public,
        &own,
        redteam::Goal::Pay,
        &[],
        100.0,
        10,
        &mut rng,
    )
    .unwrap();
    assert_eq!(choice.predicted_score, 1000);
}

/// Six slots whose previous reveals all lean along `d`; the search must find a
/// candidate the rule pays, and pay it at least as well as `d`'s pure noise.
#[test]
fn the_adaptive_search_finds_what_the_rule_pays() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let bench = SearchBench::new(0.04, &mut rng);
    let (dim, proxies, model) = (DIM, bench.proxies.clone(), bench.model());
    let build = || RuleKind::Proven.build(bench.params);
    let public = bench.public(&model);
    let own = behaviour::gaussian(dim, 0.05, &mut rng);
    let pay = redteam::Goal::Pay;
    let choice = redteam::search(&build, 5, &public, &own, pay, &[], 100.0, 10, &mut rng).unwrap();
    assert!(choice.tried > 20, "{}", choice.tried);
    let mut updates = proxies.clone();
    updates[5] = Some(choice.update.clone());
    let scored = build().aggregate(&model, &updates).unwrap().scores[5];
    assert_eq!(scored, choice.predicted_score, "the rule's own score");
    updates[5] = Some(fixed::quantise_all(&own, 10).unwrap());
    let own_score = build().aggregate(&model, &updates).unwrap().scores[5];
    assert!(
        choice.predicted_score > own_score.max(500),
        "{} vs its own noise {own_score}",
        choice.predicted_score
    );
}

/// The sybil search tries every cosine of the grid and keeps the one whose copies the rule
/// pays the group most, copies along the group's own directions.
#[test]
fn the_sybil_search_keeps_the_cosine_the_rule_pays_the_group_most() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let bench = SearchBench::new(0.04, &mut rng);
    let (dim, proxies, model) = (DIM, bench.proxies.clone(), bench.model());
    let build = || RuleKind::Proven.build(bench.params);
    let public = bench.public(&model);
    let honest = fixed::quantise_all(&behaviour::gaussian(dim, 0.05, &mut rng), 10).unwrap();
    let directions = behaviour::sybil_directions(3, dim, &mut rng);
    // Slots 3 and 5 are the group's drawn accounts 0 and 2 (account 1 not drawn).
    let drawn = [(3, 0), (5, 2)];
    let pay_at = |c: f64| -> u64 {
        let copies = behaviour::sybil_copies_along(&honest, &directions, c, 100.0, 10).unwrap();
        let mut updates = proxies.clone();
        for &(slot, copy) in &drawn {
            updates[slot] = Some(copies[copy].clone());
        }
        let out = build().aggregate(&model, &updates).unwrap();
        drawn
            .iter()
            .map(|&(slot, _)| u64::from(out.scores[slot]))
            .sum()
    };
    let pays: Vec<u64> = behaviour::SYBIL_SEARCH_COSINES
        .iter()
        .map(|&c| pay_at(c))
        .collect();
    let choice =
        redteam::sybil_search(&build, &public, &drawn, &honest, &directions, 100.0, 10).unwrap();
    let best = *pays.iter().max().unwrap();
    let first_best = pays.iter().position(|&p| p == best).unwrap();
    assert_eq!(choice.predicted_pay, best, "pays per cosine {pays:?}");
    assert_eq!(choice.cosine, behaviour::SYBIL_SEARCH_COSINES[first_best]);
    assert!(
        best > 0,
        "a group the rule pays nothing teaches nothing: {pays:?}"
    );
    assert!(
        pays.iter().any(|&p| p != best),
        "the cosine matters: {pays:?}"
    );
    let expected =
        behaviour::sybil_copies_along(&honest, &directions, choice.cosine, 100.0, 10).unwrap();
    assert_eq!(
        choice.copies, expected,
        "every account's copy, drawn or not"
    );
}

/// The damaging colluder's choice is admitted and harms at least as much as the
/// best-paid candidate would (the same seed draws the same noise direction, so the
/// pay search's candidates are among the damage search's).
#[test]
fn the_damage_search_harms_more_than_the_pay_search_while_accepted() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let bench = SearchBench::new(0.06, &mut rng);
    let (d, proxies, model) = (bench.d.clone(), bench.proxies.clone(), bench.model());
    let build = || RuleKind::Proven.build(bench.params);
    let public = bench.public(&model);
    let own: Vec<f32> = d.iter().map(|x| x * 0.5).collect();
    let search = |goal| {
        let mut r = rand::rngs::StdRng::seed_from_u64(12);
        redteam::search(&build, 5, &public, &own, goal, &[], 100.0, 10, &mut r).unwrap()
    };
    let (pay, harm) = (search(redteam::Goal::Pay), search(redteam::Goal::Damage));
    let outcome = |u: &[i16]| {
        let mut updates = proxies.clone();
        updates[5] = Some(u.to_vec());
        build().aggregate(&model, &updates).unwrap()
    };
    assert!(outcome(&harm.update).accepted[5], "stays accepted");
    // The model's step along the honest direction d: smaller with the damaging choice.
    let along = |u: &[i16]| -> f64 {
        let o = outcome(u);
        o.new_model
            .iter()
            .zip(&d)
            .map(|(&n, &x)| f64::from(n) * f64::from(x))
            .sum()
    };
    assert!(
        along(&harm.update) < along(&pay.update),
        "{} vs {}",
        along(&harm.update),
        along(&pay.update)
    );
    assert!(harm.tried > pay.tried);
}

fn exec_config(command: &str, secs: u64) -> SimConfig {
    let mut c = config(RuleKind::Proven, Some("exec:0.4"));
    c.rounds = 2;
    c.attacker_exec = Some(exec::ExecConfig {
        command: command.into(),
        timeout: std::time::Duration::from_secs(secs),
    });
    c
}

#[test]
fn the_example_attacker_program_plays_two_rounds() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/attacker_example.py");
    let r = simulate(&exec_config(&format!("python3 {script}"), 60)).unwrap();
    assert_eq!((r.attackers, r.accuracy.len()), (2, 2));
    assert!(r.per_trainer[3..].iter().all(|t| t.behaviour == "exec"));
    // Round 0 sends its honest update, which the rule accepts like its twin's.
    assert!(r.per_trainer[3..].iter().any(|t| t.scores[0] > 0), "{r:?}");
    // Unpaired flags are refused.
    let mut c = exec_config("true", 1);
    c.attack = Some("zero:0.2".parse().unwrap());
    assert!(matches!(simulate(&c), Err(SimError::ExecUnpaired)));
    c.attacker_exec = None;
    c.attack = Some("exec:0.2".parse().unwrap());
    assert!(matches!(simulate(&c), Err(SimError::ExecUnpaired)));
}

#[test]
fn bad_attacker_answers_are_clear_errors() {
    use exec::ExecError as E;
    let py = |body: &str| format!("python3 -c '{body}'");
    type Check = fn(&E) -> bool;
    let cases: Vec<(String, Check)> = vec![
        ("exit 3".into(), |e| matches!(e, E::Exit { .. })),
        ("echo nope".into(), |e| {
            matches!(e, E::NotJson { round: 0, .. })
        }),
        ("sleep 5".into(), |e| {
            matches!(e, E::Timeout { round: 0, .. })
        }),
        (py(r#"print("{\"updates\": [[1, 2], [3]]}")"#), |e| {
            matches!(
                e,
                E::Length {
                    slot: 3,
                    got: 2,
                    ..
                }
            )
        }),
        (
            py(r#"import json; print(json.dumps({"updates": [[float("nan")]] * 2}))"#),
            |e| matches!(e, E::NotFinite { round: 0 }),
        ),
        (py(r#"print("{\"updates\": []}")"#), |e| {
            matches!(
                e,
                E::Count {
                    expected: 2,
                    got: 0,
                    ..
                }
            )
        }),
    ];
    for (cmd, ok) in cases {
        match simulate(&exec_config(&cmd, 1)) {
            Err(SimError::Exec(e)) => assert!(ok(&e), "{cmd}: {e}"),
            other => panic!("{cmd}: {other:?}"),
        }
    }
}

/// `r` without what `per_round` adds to a report.
fn without_sampling_fields(mut r: SimReport) -> SimReport {
    (r.per_round, r.draws, r.fairness_total) = (None, None, None);
    for t in &mut r.per_trainer {
        (t.drawn, t.pay_per_participation) = (None, None);
    }
    r
}

#[test]
fn drawing_everyone_is_the_unsampled_run() {
    for (rule, attack) in [
        (RuleKind::Proven, None),
        (RuleKind::FedAvg, Some("sybil:2:0.2")),
        (RuleKind::TrimmedMean, Some("grief:1:0.2")),
        (RuleKind::Reputation, Some("replay:0.2")),
    ] {
        let mut c = config(rule, attack);
        let plain = simulate(&c).unwrap();
        c.per_round = Some(plain.accounts);
        let everyone = simulate(&c).unwrap();
        assert_eq!(everyone.per_round, Some(plain.accounts));
        let all: Vec<usize> = (0..plain.accounts).collect();
        assert_eq!(everyone.draws, Some(vec![all; 4]));
        assert!(everyone.per_trainer.iter().all(|t| t.drawn == Some(4)));
        assert_eq!(
            without_sampling_fields(everyone),
            plain,
            "{rule} {attack:?}"
        );
    }
}

#[test]
fn sampled_rounds_draw_k_of_everyone_and_pay_per_participation() {
    let mut c = config(RuleKind::Proven, None);
    (c.trainers, c.rounds, c.per_round, c.fairness) = (12, 6, Some(4), true);
    let r = simulate(&c).unwrap();
    let draws = r.draws.clone().unwrap();
    assert_eq!(draws, round_draws(c.seed, 6, 12, Some(4)).unwrap());
    assert_eq!(draws.len(), 6);
    for d in &draws {
        let mut s = d.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!((d.len(), s.len()), (4, 4), "{d:?}");
        assert!(d.iter().all(|&a| a < 12));
    }
    let times: u32 = r.per_trainer.iter().map(|t| t.drawn.unwrap()).sum();
    assert_eq!(times, 6 * 4);
    for t in &r.per_trainer {
        let drawn = t.drawn.unwrap();
        let rounds_in: Vec<usize> = (0..6).filter(|&k| draws[k].contains(&t.slot)).collect();
        assert_eq!(rounds_in.len() as u32, drawn);
        assert!(t.accepts <= drawn);
        // No score in a round it was not drawn into.
        for (k, &score) in t.scores.iter().enumerate() {
            assert!(score == 0 || rounds_in.contains(&k), "{t:?}");
        }
        assert_eq!(
            t.pay_per_participation,
            (drawn > 0).then(|| t.total_score as f64 / f64::from(drawn))
        );
    }
    assert!(r.fairness.is_some() && r.fairness_total.is_some(), "{r:?}");
    // Another rule on the same seed sees the same draws.
    c.rule = RuleKind::FedAvg;
    assert_eq!(simulate(&c).unwrap().draws.unwrap(), draws);
    // The JSON has the new keys; an unsampled run's has none of them.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["per_round"], 4);
    assert!(v["per_trainer"][0]["drawn"].is_number() && v["draws"].is_array());
    c.per_round = None;
    let v = serde_json::to_value(simulate(&c).unwrap()).unwrap();
    assert!(v.get("per_round").is_none() && v.get("draws").is_none());
    assert!(v["per_trainer"][0].get("drawn").is_none());
    assert!(r.to_text().contains("4 of the 12 accounts"));
}

#[test]
fn sampling_lets_more_than_64_trainers_join() {
    let mut c = config(RuleKind::FedAvg, None);
    c.data = blobs(1000, 5);
    (c.trainers, c.rounds) = (70, 1);
    assert!(matches!(
        simulate(&c),
        Err(SimError::TooManyTrainers { trainers: 70, .. })
    ));
    c.per_round = Some(8);
    let r = simulate(&c).unwrap();
    assert_eq!((r.per_trainer.len(), r.draws.unwrap()[0].len()), (70, 8));
    for k in [0, 65] {
        c.per_round = Some(k);
        assert!(matches!(
            simulate(&c),
            Err(SimError::PerRound { per_round, max: 64 }) if per_round == k
        ));
    }
}

#[test]
fn sampled_attacks_run_and_stateful_rules_are_refused() {
    let mut c = config(RuleKind::Reputation, None);
    c.per_round = Some(3);
    assert!(matches!(
        simulate(&c),
        Err(SimError::StatefulRuleSampled {
            rule: RuleKind::Reputation
        })
    ));
    for attack in ["sybil:3:0.2", "grief:0:0.2", "stale-copy:0.2"] {
        let mut c = config(RuleKind::Proven, Some(attack));
        (c.trainers, c.per_round) = (10, Some(4));
        let r = simulate(&c).unwrap();
        let times: u32 = r.per_trainer.iter().map(|t| t.drawn.unwrap()).sum();
        assert_eq!(times, 4 * 4, "{attack}");
        assert_eq!((r.attackers, r.groups.len()), (2, 2), "{attack}");
        assert!(r.per_trainer.iter().all(|t| t.drawn.unwrap() <= 4));
    }
}

/// The gate's server momentum: a round that accepts nothing still moves the model by
/// `β` times the last change (floored), and an update the inner rule does not pay is not
/// paid by the gate either.
#[test]
fn the_validation_gate_applies_momentum_and_only_gates_inner_pay() {
    let s = spec();
    let dim = s.parameter_count() as usize;
    let params = RuleParams::new(4, dim, 0, 1 << 40);
    let data = blobs(60, 3);
    let mut gate = validation::ValidationGate::new(
        params,
        false,
        CandleModel::from_spec(&s),
        data.clone(),
        blobs(60, 4),
        s.fixed_point.scale_bits,
    )
    .unwrap();
    let model = vec![0i16; dim];
    let step =
        |k: i16| -> Option<Vec<i16>> { Some((0..dim).map(|j| 40 + (j as i16 % 7) * k).collect()) };
    let ups = vec![step(1), step(2), step(3), step(-1)];
    let inner = ProvenRule(params).aggregate(&model, &ups).unwrap();
    let first = gate.aggregate(&model, &ups).unwrap();
    assert_eq!(
        first.new_model, inner.new_model,
        "no momentum before a last change"
    );
    assert_eq!(first.accepted, inner.accepted);
    for (g, i) in first.scores.iter().zip(&inner.scores) {
        assert!(
            *g == 0 || *g == i * 1000,
            "gated {g} against inner {i} per mille"
        );
    }
    // Nothing arrives: the model still moves by ⌊0.9 · last change⌋.
    let idle = gate.aggregate(&first.new_model, &vec![None; 4]).unwrap();
    for (j, ((&now, &then), &moved)) in first
        .new_model
        .iter()
        .zip(&model)
        .zip(&idle.new_model)
        .enumerate()
    {
        let change = f64::from(now) - f64::from(then);
        let expected = f64::from(now) + (0.9 * change).floor();
        assert_eq!(f64::from(moved), expected, "value {j}");
    }
    assert!(idle.scores.iter().all(|&x| x == 0));
    // A bad validation set is refused when the rule is made.
    let wrong = Dataset::new(5, 3);
    let refused = validation::ValidationGate::new(
        params,
        false,
        CandleModel::from_spec(&s),
        wrong,
        data,
        s.fixed_point.scale_bits,
    );
    assert!(refused.is_err());
}

/// End to end on the blobs: the public copier that v2 pays is gated to less, the honest
/// trainers are still paid, and the v5 variant is refused with sampled rounds (it keeps
/// state by slot).
#[test]
fn the_validation_gate_pays_a_public_copier_less_than_v2_does() {
    let mut c = config(RuleKind::Proven, Some("public-copy:0.1"));
    (c.trainers, c.rounds, c.alpha) = (10, 10, Some(0.5));
    c.data = blobs(600, 5);
    let v2 = simulate(&c).unwrap();
    c.rule = RuleKind::ValidationGate;
    let gated = simulate(&c).unwrap();
    assert!(
        gated.attacker_score_share < v2.attacker_score_share,
        "gated {} against v2 {}",
        gated.attacker_score_share,
        v2.attacker_score_share
    );
    let honest: u64 = gated
        .per_trainer
        .iter()
        .filter(|t| !t.attacker)
        .map(|t| t.total_score)
        .sum();
    assert!(honest > 0, "honest trainers are paid");
    assert_ne!(gated.accuracy, v2.accuracy, "momentum changes the model");
    c.rule = RuleKind::V5ValidationGate;
    (c.trainers, c.per_round) = (8, Some(4));
    assert!(matches!(
        simulate(&c),
        Err(SimError::StatefulRuleSampled { .. })
    ));
}
