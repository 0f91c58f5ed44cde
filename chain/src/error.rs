use merit_protocol::abi::MarketError;

/// Everything that can go wrong between Merit and the chain, named for the user.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("cannot reach the node at {url} (is the devnet up? `merit devnet status`)")]
    Connect {
        url: String,
        #[source]
        source: Box<subxt::Error>,
    },
    #[error("the contract refused `{message}`: {error} ({error:?})")]
    Contract {
        message: &'static str,
        error: MarketError,
    },
    #[error(
        "`{message}` sends {need} from {account}, which holds {have}: fund the account or \
         use another"
    )]
    CannotPay {
        message: &'static str,
        account: String,
        need: u128,
        have: u128,
    },
    #[error("{0}")]
    CannotPayFee(Box<FeeShortfall>),
    #[error("the chain rejected `{call}`: {detail}")]
    Dispatch { call: String, detail: String },
    #[error("the contract reverted `{message}` without a Merit error (data 0x{data})")]
    Reverted { message: &'static str, data: String },
    #[error("could not decode {what}: {detail}")]
    Decode { what: String, detail: String },
    #[error("contract bundle {path}: {detail}")]
    Bundle { path: String, detail: String },
    #[error("the contract has no message or constructor named `{0}` (is the bundle stale?)")]
    UnknownSelector(String),
    #[error("unknown dev account `{0}` (expected one of alice, bob, charlie, dave, eve, ferdie)")]
    UnknownAccount(String),
    #[error("chain RPC failed")]
    Rpc(#[source] Box<subxt::Error>),
}

pub type Result<T, E = ChainError> = std::result::Result<T, E>;

/// A write refused before it was sent: its fee, in the chain's units, is more than the
/// signer holds. Boxed in [`ChainError`], which stays small.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{call}` costs a fee of about {fee}, and {account} holds {have}: fund the account or \
     use another (nothing was sent)"
)]
pub struct FeeShortfall {
    pub call: String,
    pub account: String,
    pub fee: String,
    pub have: String,
}

/// An error and each of its causes, once each (`a: b: c`), for a log line or a status
/// detail: an error's `Display` leaves its cause to `source()`. One home for every crate
/// above this one (the roles and the CLI).
pub fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// subxt's error is large; boxed, every `Result` of this crate stays small.
impl From<subxt::Error> for ChainError {
    fn from(e: subxt::Error) -> Self {
        Self::Rpc(Box::new(e))
    }
}
