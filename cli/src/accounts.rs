//! Who signs and who is named on the command line: the dev accounts by name (`alice`) or
//! as secret URIs (`//Alice`, `//Bob//stash`), any secret URI or mnemonic, and SS58
//! addresses where only an account is needed.

use merit_chain::client::account_of;
use merit_chain::{AccountId32, Signer};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0:?} is neither a dev account name (alice … ferdie) nor a secret URI such as //Alice: {1}")]
    BadKey(String, String),
    #[error("{0:?} is neither a dev account name, a secret URI nor an SS58 address")]
    BadAccount(String),
}

/// A signing key: a dev account name, else a secret URI (`//Alice`, a mnemonic, …).
pub fn signer(s: &str) -> Result<Signer, AccountError> {
    if let Ok(k) = merit_chain::dev_signer(s) {
        return Ok(k);
    }
    let uri = subxt_signer::SecretUri::from_str(s)
        .map_err(|e| AccountError::BadKey(s.into(), e.to_string()))?;
    subxt_signer::sr25519::Keypair::from_uri(&uri)
        .map_err(|e| AccountError::BadKey(s.into(), e.to_string()))
}

/// An account: whatever [`signer`] takes, or an SS58 address.
pub fn account(s: &str) -> Result<AccountId32, AccountError> {
    if let Ok(k) = signer(s) {
        return Ok(account_of(&k));
    }
    s.parse::<AccountId32>()
        .map_err(|_| AccountError::BadAccount(s.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_names_uris_and_addresses_name_the_same_account() {
        let alice = account("alice").unwrap();
        assert_eq!(account("//Alice").unwrap(), alice);
        assert_eq!(account("Alice").unwrap(), alice);
        assert_eq!(account(&alice.to_string()).unwrap(), alice);
        assert_ne!(account("//Alice//stash").unwrap(), alice);
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        let e = signer("not a key").unwrap_err().to_string();
        assert!(e.contains("\"not a key\"") && e.contains("//Alice"), "{e}");
        let e = account("5Gxx").unwrap_err().to_string();
        assert!(e.contains("SS58"), "{e}");
    }
}
