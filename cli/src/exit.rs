//! Exit statuses that mean something, and a next step for the common failures.
//!
//! The status is read from the error's types, never from its text: [`code`] walks the
//! chain of causes (looking inside the wrappers that forward a cause transparently) and
//! the first cause it recognises decides.

use merit_aggregator::AggregatorError;
use merit_chain::ChainError;
use merit_cli::accounts::AccountError;
use merit_cli::ceremony::CeremonyCliError;
use merit_cli::contract::ContractBuildError;
use merit_cli::devnet::DevnetError;
use merit_cli::network::NetworkError;
use merit_protocol::abi::MarketError;
use merit_storage::StorageError;
use merit_trainer::data::DataError;
use merit_trainer::node::NodeError;
use merit_trainer::TrainerError;
use std::error::Error as StdError;

pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const STALE_BUNDLE: i32 = 3;
pub const CONTRACT_REFUSED: i32 = 4;
pub const UNREACHABLE: i32 = 5;

/// A flag's value, or a file a flag names, that cannot be used: exit status 2. `what`
/// names the flag (and the file); the cause says what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct BadInput {
    pub what: String,
    #[source]
    pub source: Box<dyn StdError + Send + Sync + 'static>,
}

/// Wraps an error as [`BadInput`] naming `what` (`--spec path/to/spec.json`).
pub fn bad_input<E>(what: impl Into<String>) -> impl FnOnce(E) -> anyhow::Error
where
    E: StdError + Send + Sync + 'static,
{
    let what = what.into();
    move |e| {
        BadInput {
            what,
            source: Box::new(e),
        }
        .into()
    }
}

/// A command whose answer is its exit status, after it printed what it found: `devnet
/// status` (1: something is down), `contract check` (3: the bundle is stale or missing).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Status {
    pub code: i32,
    pub message: String,
}

/// A request for something that is not there to be done: `merit verify` of a round that
/// is not finalised (exit status 2, bad usage; 1 stays "verify disagreed").
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NothingToDo(pub String);

/// The exit status for one cause, looking through transparent wrappers.
fn classify(e: &(dyn StdError + 'static)) -> Option<i32> {
    if let Some(s) = e.downcast_ref::<Status>() {
        return Some(s.code);
    }
    if let Some(c) = e
        .downcast_ref::<ChainError>()
        .or_else(|| e.downcast_ref::<Box<ChainError>>().map(|b| &**b))
    {
        return match c {
            ChainError::Contract { .. }
            | ChainError::CannotPay { .. }
            | ChainError::CannotPayFee(_) => Some(CONTRACT_REFUSED),
            ChainError::Connect { .. } | ChainError::Rpc(_) => Some(UNREACHABLE),
            ChainError::UnknownAccount(_) => Some(USAGE),
            _ => None,
        };
    }
    if let Some(s) = e.downcast_ref::<StorageError>() {
        return match s {
            StorageError::Unreachable { .. } => Some(UNREACHABLE),
            StorageError::BadUrl { .. } => Some(USAGE),
            _ => None,
        };
    }
    if let Some(c) = e.downcast_ref::<CeremonyCliError>() {
        // A missing or malformed file is the user's; a transcript that does not verify
        // is a disagreement (1), as `merit verify`'s.
        return c.is_bad_input().then_some(USAGE);
    }
    if e.is::<BadInput>() || e.is::<AccountError>() || e.is::<NothingToDo>() {
        return Some(USAGE);
    }
    if let Some(d) = e.downcast_ref::<DataError>() {
        // A file that is not a data set, or settings that cannot split it; an I/O
        // failure is the user's only where the caller says so (BadInput).
        return (!matches!(d, DataError::Io { .. })).then_some(USAGE);
    }
    if let Some(n) = e.downcast_ref::<NetworkError>() {
        return match n {
            NetworkError::Devnet(d) => classify(&**d),
            NetworkError::Chain(c) => classify(c),
            NetworkError::Storage(s) => classify(s),
            NetworkError::Build(b) => classify(b),
            NetworkError::Io { .. } => None,
            // A flag or a file of the user's that cannot be used.
            _ => Some(USAGE),
        };
    }
    if let Some(d) = e.downcast_ref::<DevnetError>() {
        return match d {
            // No devnet here: nothing answers for the chain.
            DevnetError::NotFound(_) => Some(UNREACHABLE),
            DevnetError::BadInfo { .. } => Some(USAGE),
            DevnetError::Chain(c) => classify(c),
            DevnetError::Storage(s) => classify(s),
            DevnetError::Contract(c) => classify(c),
            _ => None,
        };
    }
    if let Some(ContractBuildError::Stale { .. }) = e.downcast_ref::<ContractBuildError>() {
        return Some(STALE_BUNDLE);
    }
    if let Some(a) = e.downcast_ref::<AggregatorError>() {
        return match a {
            // Nothing to verify yet, or --from is not the project's aggregator.
            AggregatorError::NotFinalized { .. } | AggregatorError::NotOurProject { .. } => {
                Some(USAGE)
            }
            _ => None,
        };
    }
    if let Some(n) = e
        .downcast_ref::<NodeError>()
        .or_else(|| e.downcast_ref::<Box<NodeError>>().map(|b| &**b))
    {
        return match n {
            NodeError::Chain(c) => classify(&**c),
            _ => None,
        };
    }
    if let Some(TrainerError::Storage(s)) = e.downcast_ref::<TrainerError>() {
        return classify(s);
    }
    None
}

/// The exit status for a failed command: the first cause, outermost first, that has one.
pub fn code(e: &anyhow::Error) -> i32 {
    e.chain().find_map(classify).unwrap_or(FAILURE)
}

fn chain_error(e: &anyhow::Error) -> Option<&ChainError> {
    fn inner<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a ChainError> {
        if let Some(c) = e
            .downcast_ref::<ChainError>()
            .or_else(|| e.downcast_ref::<Box<ChainError>>().map(|b| &**b))
        {
            return Some(c);
        }
        match (
            e.downcast_ref::<DevnetError>(),
            e.downcast_ref::<NetworkError>(),
        ) {
            (Some(DevnetError::Chain(c)), _) | (_, Some(NetworkError::Chain(c))) => Some(c),
            (_, Some(NetworkError::Devnet(d))) => match &**d {
                DevnetError::Chain(c) => Some(c),
                _ => None,
            },
            _ => None,
        }
    }
    e.chain().find_map(inner)
}

/// What to do next, for the refusals a user meets most.
pub fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let not_finalised = |c: &(dyn StdError + 'static)| {
        c.is::<NothingToDo>()
            || matches!(
                c.downcast_ref::<AggregatorError>(),
                Some(AggregatorError::NotFinalized { .. })
            )
    };
    let unvouched = |c: &(dyn StdError + 'static)| {
        matches!(
            c.downcast_ref::<CeremonyCliError>(),
            Some(
                CeremonyCliError::NoSetupRecorded { .. }
                    | CeremonyCliError::NoShapeSetupRecorded { .. }
            )
        )
    };
    if e.chain().any(unvouched) {
        return Some(
            "join with --trust-keys only if you trust whoever ran the project's setup; else ask \
             its owner for keys from a ceremony (`merit ceremony`, `project create --ceremony`)",
        );
    }
    if e.chain().any(not_finalised) {
        return Some(
            "only finalised rounds can be verified: `merit project status ID` shows the round",
        );
    }
    let error = match chain_error(e)? {
        ChainError::Contract { error, .. } => *error,
        ChainError::Connect { .. } => {
            return Some(
                "start the local chain with `merit devnet up`, or check --data-dir (or --url, \
                 for a node you run)",
            )
        }
        _ => return None,
    };
    Some(match error {
        MarketError::WrongPhase => {
            "`merit project status ID` shows the phase: cancel only while Open, claim once \
             Finished, Cancelled or Aborted, abort only in Aggregate after its deadline, \
             answer a set-aside only while its round aggregates, contribute to the keys only \
             while Open"
        }
        MarketError::NotSetAside => {
            "`merit project status ID` shows the set-aside slots: only those of the round \
             being aggregated can be answered"
        }
        MarketError::AnswerDoesNotOpen => {
            "post the very update file the slot committed to (a trainer node keeps it in its \
             state directory)"
        }
        MarketError::AnswerWindowClosed => {
            "a set-aside can be answered for `deadlines.reveal` blocks after it, no later"
        }
        MarketError::AnswerWindowOpen => {
            "a set-aside of this round can still be answered: wait for its window (`merit \
             aggregator run` waits on its own)"
        }
        MarketError::NotSetupParty => {
            "sign as the project's owner, its aggregator or a trainer that joined it (`merit \
             trainer run` contributes on joining)"
        }
        MarketError::StaleSetupLink => {
            "someone contributed meanwhile: run `merit ceremony contribute` again, it builds \
             on the recorded transcript"
        }
        MarketError::TooEarly => "`merit project status ID` shows how many blocks are left",
        MarketError::NotOwner => {
            "sign as the project's owner (--from; `merit project status ID`); before the join \
             deadline only the owner may start or cancel"
        }
        MarketError::ConflictOfInterest => {
            "train with an account that is neither the project's owner nor its aggregator"
        }
        MarketError::DepositTooLarge => "ask a stake and a bond of at most 2^96",
        MarketError::NothingToClaim => {
            "this account is owed nothing here, or it has claimed already"
        }
        MarketError::NotReady => {
            "wait for min_trainers to join and the aggregator to bond (`merit project status ID`)"
        }
        MarketError::NoSuchProject => "list a project with `merit project status ID`",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn refusals_and_unreachable_daemons_get_their_own_status() {
        let refused: anyhow::Result<()> = Err(ChainError::Contract {
            message: "cancel",
            error: MarketError::WrongPhase,
        })
        .context("cancelling");
        let e = refused.unwrap_err();
        assert_eq!(code(&e), CONTRACT_REFUSED);
        assert!(hint(&e).unwrap().contains("cancel only while Open"));
        let down = anyhow::Error::new(StorageError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "refused".into(),
        });
        assert_eq!(code(&down), UNREACHABLE);
        // A stake the signer cannot pay is refused before sending, like the contract would.
        let poor = anyhow::Error::new(ChainError::CannotPay {
            message: "join",
            account: "5Gxx".into(),
            need: 10,
            have: 1,
        })
        .context("joining");
        assert_eq!(code(&poor), CONTRACT_REFUSED);
        assert_eq!(code(&anyhow::anyhow!("anything else")), FAILURE);
        assert!(hint(&anyhow::anyhow!("anything else")).is_none());
    }

    fn unreachable_ipfs() -> StorageError {
        StorageError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        }
    }

    #[test]
    fn a_trainer_whose_ipfs_is_down_is_unreachable_however_deep() {
        // As `merit trainer run` meets it: loading the spec, and after giving up retrying.
        let direct = anyhow::Error::new(NodeError::from(unreachable_ipfs()))
            .context("trainer for project 0");
        assert_eq!(code(&direct), UNREACHABLE, "{direct:#}");
        let gave_up = anyhow::Error::new(NodeError::GaveUp {
            attempts: 3,
            last: Box::new(NodeError::Publish(
                TrainerError::Storage(unreachable_ipfs()),
            )),
        });
        assert_eq!(code(&gave_up), UNREACHABLE, "{gave_up:#}");
        let refused = anyhow::Error::new(NodeError::from(ChainError::Contract {
            message: "join",
            error: MarketError::WrongPhase,
        }));
        assert_eq!(code(&refused), CONTRACT_REFUSED, "{refused:#}");
    }

    #[test]
    fn bad_flags_and_files_are_usage_errors() {
        let key = anyhow::Error::new(merit_cli::accounts::signer("not a key").unwrap_err())
            .context("--from");
        assert_eq!(code(&key), USAGE);
        let file = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let spec = bad_input("--spec spec.json")(file);
        assert_eq!(code(&spec), USAGE);
        assert_eq!(format!("{spec:#}"), "--spec spec.json: gone");
        let round = anyhow::Error::new(AggregatorError::NotFinalized {
            project: 0,
            round: 7,
        });
        assert_eq!(code(&round), USAGE);
        let nowhere = anyhow::Error::new(DevnetError::NotFound("/nowhere".into()));
        assert_eq!(code(&nowhere), UNREACHABLE);
    }

    #[test]
    fn a_node_that_does_not_answer_through_the_devnet_is_unreachable() {
        let refused = anyhow::Error::new(DevnetError::Chain(ChainError::Contract {
            message: "start",
            error: MarketError::NoSuchProject,
        }));
        assert_eq!(code(&refused), CONTRACT_REFUSED);
        assert!(hint(&refused).is_some());
        let ipfs = anyhow::Error::new(DevnetError::Storage(unreachable_ipfs()));
        assert_eq!(code(&ipfs), UNREACHABLE);
    }
}
