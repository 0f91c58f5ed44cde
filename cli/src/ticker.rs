//! The devnet's clock: `merit devnet tick`, a background process that makes a block every
//! block time, as anvil's `--block-time` does.
//!
//! Both devnet chains otherwise make a block only when somebody sends a transaction (the
//! node's `--dev` instant seal, and the embedded chain by design), so a project whose
//! trainers went silent would never reach its deadlines: nobody could `cancel` or `abort`
//! it, and its escrow would stay locked. A real chain makes blocks on its own; the ticker
//! gives the devnet the same property, so no role ever depends on somebody else's
//! transaction to make progress.
//!
//! On the embedded chain a tick is an empty block; on the node, whose instant seal offers
//! no way to ask for an empty block, it is a `System::remark` from an account no role uses
//! (`//Ferdie//stash`, endowed by the `--dev` genesis), so the ticker never races a role
//! for its nonce.

use merit_chain::{ChainBackend, ChainClient, ChainError, Signer};
use merit_chain_embedded::EmbeddedChain;
use std::path::PathBuf;
use std::time::Duration;

/// Consecutive failed ticks after which the ticker gives up (its chain is gone).
const MAX_FAILURES: u32 = 10;

/// Which chain the ticker makes blocks on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickTarget {
    /// The embedded chain kept in this file.
    Embedded(PathBuf),
    /// The node at this RPC URL.
    Node(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error("block time must be at least 1 ms")]
    ZeroBlockTime,
    #[error("{failures} ticks in a row failed")]
    ChainGone {
        failures: u32,
        #[source]
        source: ChainError,
    },
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// The account that signs the node's ticks: endowed in the `--dev` genesis, used by no role.
pub fn ticker_signer() -> Signer {
    let uri = "//Ferdie//stash"
        .parse::<subxt_signer::SecretUri>()
        .expect("a dev derivation path parses");
    Signer::from_uri(&uri).expect("a dev derivation path derives")
}

/// The chain the ticks go to, and who signs them (the embedded chain ignores the signer).
async fn open(target: &TickTarget) -> Result<Box<dyn ChainBackend>, ChainError> {
    Ok(match target {
        TickTarget::Embedded(path) => Box::new(EmbeddedChain::open(path)?),
        TickTarget::Node(url) => Box::new(ChainClient::connect(url).await?),
    })
}

/// Makes a block on `target` every `every`, until the process is stopped (`merit devnet
/// down`) or the chain fails [`MAX_FAILURES`] times in a row.
pub async fn run(target: &TickTarget, every: Duration) -> Result<(), TickError> {
    if every.is_zero() {
        return Err(TickError::ZeroBlockTime);
    }
    let chain = open(target).await?;
    let signer = ticker_signer();
    let mut failures = 0;
    let mut interval = tokio::time::interval(every);
    // A late tick (a long write held the chain's lock) is not made up for with a burst.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        match chain.advance_blocks(&signer, 1).await {
            Ok(()) => failures = 0,
            Err(source) => {
                failures += 1;
                let causes = merit_chain::with_causes(&source);
                eprintln!("tick failed ({failures} in a row): {causes}");
                if failures >= MAX_FAILURES {
                    return Err(TickError::ChainGone { failures, source });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ticks_make_blocks_on_the_embedded_chain_on_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.state");
        let chain = EmbeddedChain::open(&path).unwrap();
        assert_eq!(chain.best_block().unwrap(), 0);
        let target = TickTarget::Embedded(path.clone());
        let ticking = tokio::spawn(async move { run(&target, Duration::from_millis(20)).await });
        // Another handle on the same file sees the blocks: nobody sent a transaction.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while chain.best_block().unwrap() < 3 {
            assert!(std::time::Instant::now() < deadline, "no blocks were made");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        ticking.abort();
    }

    #[tokio::test]
    async fn a_zero_block_time_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = TickTarget::Embedded(dir.path().join("chain.state"));
        let e = run(&target, Duration::ZERO).await.unwrap_err();
        assert!(matches!(e, TickError::ZeroBlockTime), "{e}");
    }

    #[tokio::test]
    async fn a_missing_node_is_an_error_not_a_hang() {
        let port = crate::process::free_port().unwrap();
        let target = TickTarget::Node(format!("ws://127.0.0.1:{port}"));
        let e = run(&target, Duration::from_millis(10)).await.unwrap_err();
        let all = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<String>();
        assert!(all.contains(&port.to_string()), "{all}");
    }

    #[test]
    fn the_node_ticker_signs_with_an_account_no_role_uses() {
        let ticker = merit_chain::account_of(&ticker_signer());
        for name in merit_chain::DEV_ACCOUNTS {
            let role = merit_chain::account_of(&merit_chain::dev_signer(name).unwrap());
            assert_ne!(ticker, role, "{name}");
        }
    }
}
