//! cargo-contract's `.contract` bundle: the wasm blob plus the ink! metadata we need
//! (constructor/message selectors, event signature topics).

use crate::error::{ChainError, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub type Selector = [u8; 4];

#[derive(Debug, Clone)]
pub struct ContractBundle {
    pub name: String,
    pub wasm: Vec<u8>,
    pub code_hash: [u8; 32],
    constructors: BTreeMap<String, Selector>,
    messages: BTreeMap<String, Selector>,
    /// Event signature topic -> event label.
    events: BTreeMap<[u8; 32], String>,
}

#[derive(Deserialize)]
struct Raw {
    source: RawSource,
    contract: RawContract,
    spec: RawSpec,
}
#[derive(Deserialize)]
struct RawSource {
    hash: String,
    wasm: Option<String>,
}
#[derive(Deserialize)]
struct RawContract {
    name: String,
}
#[derive(Deserialize)]
struct RawSpec {
    constructors: Vec<RawEntry>,
    messages: Vec<RawEntry>,
    #[serde(default)]
    events: Vec<RawEvent>,
}
#[derive(Deserialize)]
struct RawEntry {
    label: String,
    selector: String,
}
#[derive(Deserialize)]
struct RawEvent {
    label: String,
    signature_topic: Option<String>,
}

fn hex_array<const N: usize>(s: &str, what: &str) -> std::result::Result<[u8; N], String> {
    let bytes = hex::decode(s.trim_start_matches("0x")).map_err(|e| format!("{what}: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{what}: expected {N} bytes, found {}", b.len()))
}

impl ContractBundle {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ChainError::Bundle {
            path: path.display().to_string(),
            detail: format!("{e} (build it with `merit contract build`)"),
        })?;
        Self::parse(&text).map_err(|detail| ChainError::Bundle {
            path: path.display().to_string(),
            detail,
        })
    }

    pub fn parse(json: &str) -> std::result::Result<Self, String> {
        let raw: Raw =
            serde_json::from_str(json).map_err(|e| format!("not a .contract bundle: {e}"))?;
        let wasm_hex = raw
            .source
            .wasm
            .ok_or("no `source.wasm`: this is a .json metadata file, use the .contract bundle")?;
        let wasm = hex::decode(wasm_hex.trim_start_matches("0x"))
            .map_err(|e| format!("source.wasm: {e}"))?;
        let table = |entries: Vec<RawEntry>| {
            entries
                .into_iter()
                .map(|e| Ok((e.label, hex_array::<4>(&e.selector, "selector")?)))
                .collect::<std::result::Result<BTreeMap<_, _>, String>>()
        };
        let mut events = BTreeMap::new();
        for ev in raw.spec.events {
            if let Some(topic) = ev.signature_topic {
                events.insert(hex_array::<32>(&topic, "signature_topic")?, ev.label);
            }
        }
        Ok(Self {
            name: raw.contract.name,
            code_hash: hex_array::<32>(&raw.source.hash, "source.hash")?,
            wasm,
            constructors: table(raw.spec.constructors)?,
            messages: table(raw.spec.messages)?,
            events,
        })
    }

    pub fn constructor(&self, label: &str) -> Result<Selector> {
        self.constructors
            .get(label)
            .copied()
            .ok_or_else(|| ChainError::UnknownSelector(label.into()))
    }

    pub fn message(&self, label: &str) -> Result<Selector> {
        self.messages
            .get(label)
            .copied()
            .ok_or_else(|| ChainError::UnknownSelector(label.into()))
    }

    /// The event label whose signature topic is `topic`, if this contract declares one.
    pub fn event_label(&self, topic: &[u8; 32]) -> Option<&str> {
        self.events.get(topic).map(String::as_str)
    }

    /// The signature topic of the event called `label`.
    pub fn event_topic(&self, label: &str) -> Option<[u8; 32]> {
        self.events
            .iter()
            .find(|(_, l)| *l == label)
            .map(|(t, _)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"{
      "source": {"hash": "0x0101010101010101010101010101010101010101010101010101010101010101",
                 "wasm": "0x0061736d01000000"},
      "contract": {"name": "marketplace"},
      "spec": {
        "constructors": [{"label": "new", "selector": "0x9bae9d5e"}],
        "messages": [{"label": "project_count", "selector": "0x01020304"}],
        "events": [{"label": "ProjectCreated",
                    "signature_topic": "0x0202020202020202020202020202020202020202020202020202020202020202"}]
      }
    }"#;

    #[test]
    fn parses_selectors_wasm_and_events() {
        let b = ContractBundle::parse(MINI).unwrap();
        assert_eq!(b.name, "marketplace");
        assert_eq!(b.wasm, vec![0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
        assert_eq!(b.code_hash, [1; 32]);
        assert_eq!(b.constructor("new").unwrap(), [0x9b, 0xae, 0x9d, 0x5e]);
        assert_eq!(b.message("project_count").unwrap(), [1, 2, 3, 4]);
        assert_eq!(b.event_label(&[2; 32]), Some("ProjectCreated"));
        assert_eq!(b.event_topic("ProjectCreated"), Some([2; 32]));
    }

    #[test]
    fn unknown_message_is_named() {
        let b = ContractBundle::parse(MINI).unwrap();
        let e = b.message("steal_pool").unwrap_err().to_string();
        assert!(e.contains("steal_pool"), "{e}");
    }

    #[test]
    fn metadata_without_wasm_is_refused_clearly() {
        let json = MINI.replace(
            r#""wasm": "0x0061736d01000000""#,
            r#""language": "ink! 5.1.1""#,
        );
        let e = ContractBundle::parse(&json).unwrap_err();
        assert!(e.contains("source.wasm"), "{e}");
    }

    #[test]
    fn bad_selector_length_is_refused() {
        let json = MINI.replace("0x01020304", "0x0102");
        let e = ContractBundle::parse(&json).unwrap_err();
        assert!(e.contains("expected 4 bytes"), "{e}");
    }

    #[test]
    fn missing_file_points_at_the_build_command() {
        let dir = tempfile::tempdir().unwrap();
        let e = ContractBundle::load(&dir.path().join("nope.contract"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("merit contract build"), "{e}");
    }
}
