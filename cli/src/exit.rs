//! Exit statuses that mean something, and a next step for the common failures.

use merit_chain::ChainError;
use merit_protocol::abi::MarketError;
use merit_storage::StorageError;

pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const CONTRACT_REFUSED: i32 = 4;
pub const UNREACHABLE: i32 = 5;

fn chain_error(e: &anyhow::Error) -> Option<&ChainError> {
    e.chain().find_map(|c| {
        c.downcast_ref::<ChainError>()
            .or_else(|| c.downcast_ref::<Box<ChainError>>().map(|b| &**b))
    })
}

fn storage_error(e: &anyhow::Error) -> Option<&StorageError> {
    e.chain().find_map(|c| c.downcast_ref::<StorageError>())
}

/// The exit status for a failed command.
pub fn code(e: &anyhow::Error) -> i32 {
    match chain_error(e) {
        Some(ChainError::Contract { .. }) => return CONTRACT_REFUSED,
        Some(ChainError::Connect { .. } | ChainError::Rpc(_)) => return UNREACHABLE,
        _ => {}
    }
    if let Some(StorageError::Unreachable { .. }) = storage_error(e) {
        return UNREACHABLE;
    }
    FAILURE
}

/// What to do next, for the refusals a user meets most.
pub fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let error = match chain_error(e)? {
        ChainError::Contract { error, .. } => *error,
        ChainError::Connect { .. } => {
            return Some("start the local chain with `merit devnet up`, or check --data-dir")
        }
        _ => return None,
    };
    Some(match error {
        MarketError::WrongPhase => {
            "`merit project status ID` shows the phase: cancel only while Open, claim once \
             Finished, Cancelled or Aborted, abort only in Aggregate after its deadline"
        }
        MarketError::TooEarly => "`merit project status ID` shows how many blocks are left",
        MarketError::NotOwner => "sign as the project's owner (--from; `merit project status ID`)",
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
        assert_eq!(code(&anyhow::anyhow!("anything else")), FAILURE);
        assert!(hint(&anyhow::anyhow!("anything else")).is_none());
    }
}
