//! `merit demo` end to end, as a newcomer runs it, with a real IPFS daemon and the real
//! digits: on an embedded chain of its own with the roles as tasks, and on a devnet with
//! the roles as `merit trainer run` / `merit aggregator run` processes of the real binary.
//! The assertions read its JSON summary (what `merit demo --json` prints): every proof
//! verified on chain, honest trainers paid, the simulated attackers' share of the rewards
//! at most 2 %, at the default rounds a test accuracy of at least 90 %, the escrow back to
//! the contract's existential deposit, a report written, and (as `merit demo` runs it) the
//! keys from a ceremony of two contributions that every trainer node verified before
//! staking. The processes' run leaves the ceremony out: `merit trainer run` verifying and
//! contributing to a ceremony as a process is `tests/ceremony.rs`'s, and the 2-core CI
//! budget has no room for a third ceremony.

use merit_cli::devnet::IpfsDaemon;
use merit_cli::story::{self, RoleRunner, StoryOptions};
use std::time::Duration;

fn options(dir: &std::path::Path, rounds: u32, roles: RoleRunner, ceremony: bool) -> StoryOptions {
    let digits = match std::env::var_os("MERIT_DIGITS") {
        Some(p) => p.into(),
        None => merit_cli::tools::digits_csv().expect("the digits"),
    };
    StoryOptions {
        digits,
        work_dir: dir.join("work"),
        report_dir: dir.join("report"),
        rounds,
        roles,
        ceremony,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_pays_honest_trainers_and_drains_the_escrow() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = IpfsDaemon::start(dir.path(), Duration::from_secs(90))
        .await
        .unwrap_or_else(|e| panic!("IPFS daemon: {e}"));
    let (_chain, market) = merit_cli::chain::embedded_marketplace(None).await.unwrap();
    // The demo as `merit demo` runs it: its default rounds, held to issue #27's accuracy.
    let rounds = story::DEFAULT_ROUNDS;
    let opts = options(dir.path(), rounds, RoleRunner::Tasks, true);
    let summary = story::run(&market, &daemon.store().unwrap(), &opts)
        .await
        .unwrap();
    check(serde_json::to_value(&summary).unwrap(), rounds.into(), true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_runs_with_every_role_a_separate_merit_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = merit_cli::devnet::DevnetOptions::new(dir.path().join("devnet"));
    opts.chain = Some(merit_cli::chain::ChainChoice::Embedded);
    let info = match merit_cli::devnet::up(&opts).await.unwrap() {
        merit_cli::devnet::UpOutcome::Started(i) => i,
        merit_cli::devnet::UpOutcome::AlreadyRunning(_) => unreachable!("a fresh directory"),
    };
    let roles = RoleRunner::Processes {
        exe: env!("CARGO_BIN_EXE_merit").into(),
        data_dir: info.data_dir.clone(),
    };
    let market = info.marketplace().await.unwrap();
    let result = story::run(
        &market,
        &info.ipfs().unwrap(),
        &options(dir.path(), 2, roles, false),
    )
    .await;
    merit_cli::devnet::down(&info.data_dir).unwrap();
    check(serde_json::to_value(result.unwrap()).unwrap(), 2, false);
}

/// The summary's promises, read from its JSON.
fn check(j: serde_json::Value, rounds: u64, ceremony: bool) {
    assert_eq!(j["chain"], "embedded");
    assert_eq!(j["rounds"], rounds);
    assert_eq!(j["proofs_verified_on_chain"], rounds);
    if ceremony {
        // The keys come from a ceremony: the first honest trainer's phase 1 and the owner's
        // phase 2, verified by the owner and (or the demo would have stopped) every trainer.
        assert_eq!(j["setup_contributions"], 2, "{j}");
        assert_eq!(j["setup_verified"], true);
        assert!(j["ceremony_seconds"].as_f64().unwrap() > 0.0);
    } else {
        assert_eq!(j["setup_contributions"], 0, "{j}");
        assert_eq!(j["setup_verified"], false);
    }
    let stake = 1_000_000_000_000u128;
    let amount = |v: &serde_json::Value| {
        v.as_u64()
            .map(u128::from)
            .or_else(|| v.as_str()?.parse().ok())
            .unwrap_or_else(|| v.as_f64().unwrap() as u128)
    };
    let trainers = j["trainers"].as_array().unwrap();
    assert_eq!(trainers.len(), 5);
    let (mut honest, mut attackers) = (0u128, 0u128);
    for t in trainers {
        let back = if t["stake_returned"].as_bool().unwrap() {
            stake
        } else {
            0
        };
        let reward = amount(&t["payout"]).saturating_sub(back);
        if t["behaviour"] == "honest" {
            assert!(reward > 0, "an honest trainer was not paid: {t}");
            assert_eq!(t["stake_returned"], true, "{t}");
            honest += reward;
        } else {
            attackers += reward;
        }
    }
    let share = attackers as f64 / (honest + attackers) as f64;
    assert!(
        share <= 0.02,
        "attackers took {:.1} % of the rewards: {j}",
        100.0 * share
    );
    assert!((j["attacker_reward_share"].as_f64().unwrap() - share).abs() < 1e-9);
    let ed = merit_chain_embedded::runtime::EXISTENTIAL_DEPOSIT;
    assert_eq!(amount(&j["contract_balance_before"]), ed);
    assert_eq!(
        amount(&j["contract_balance_after"]),
        ed,
        "the escrow drained: {j}"
    );
    let accuracy = j["final_accuracy"].as_f64().unwrap();
    assert!(accuracy > j["initial_accuracy"].as_f64().unwrap());
    if rounds >= u64::from(story::DEFAULT_ROUNDS) {
        // Issue #27's bar (92.5–93.9 % over the 24 slot orders the join race can give).
        assert!(accuracy >= 0.90, "final accuracy {accuracy}: {j}");
    }

    let html = std::fs::read_to_string(j["report"].as_str().unwrap()).unwrap();
    assert_eq!(html.matches("<svg").count(), 4, "four plots");
    assert!(html.contains("label-flip (simulated)"));
}
