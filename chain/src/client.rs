//! A thin, typed layer over subxt for pallet-contracts on substrate-contracts-node 0.42.
//!
//! Reads are dry-runs through the `ContractsApi` runtime API at the best block; writes are
//! signed extrinsics that we consider done once they are in a best block (the dev node
//! seals instantly and finality may lag, as cargo-contract also assumes).

use crate::backend::{BackendKind, ChainBackend, ContractEvent, DryRun, ExecReturn};
use crate::error::{ChainError, FeeShortfall, Result};
use crate::units::Units;
use async_trait::async_trait;
use parity_scale_codec::{Decode, Encode};
use subxt::backend::legacy::LegacyRpcMethods;
use subxt::backend::rpc::RpcClient;
use subxt::blocks::ExtrinsicEvents;
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::dynamic::Value;
use subxt::tx::TxStatus;
use subxt::utils::AccountId32;
use subxt::{OnlineClient, PolkadotConfig};

pub type Config = PolkadotConfig;
pub type Signer = subxt_signer::sr25519::Keypair;

/// The well-known development accounts, funded in the `--dev` genesis.
pub const DEV_ACCOUNTS: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];

pub fn dev_signer(name: &str) -> Result<Signer> {
    use subxt_signer::sr25519::dev;
    Ok(match name.to_ascii_lowercase().as_str() {
        "alice" => dev::alice(),
        "bob" => dev::bob(),
        "charlie" => dev::charlie(),
        "dave" => dev::dave(),
        "eve" => dev::eve(),
        "ferdie" => dev::ferdie(),
        _ => return Err(ChainError::UnknownAccount(name.into())),
    })
}

pub fn account_of(signer: &Signer) -> AccountId32 {
    AccountId32(signer.public_key().0)
}

/// `sp_weights::Weight`, as SCALE sees it.
#[derive(Encode, Decode, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weight {
    #[codec(compact)]
    pub ref_time: u64,
    #[codec(compact)]
    pub proof_size: u64,
}

impl Weight {
    pub(crate) fn to_value(self) -> Value {
        Value::named_composite([
            ("ref_time", Value::u128(self.ref_time.into())),
            ("proof_size", Value::u128(self.proof_size.into())),
        ])
    }

    /// Headroom over a dry-run estimate: state can move between dry-run and inclusion.
    pub fn with_margin(self) -> Self {
        Self {
            ref_time: self.ref_time.saturating_add(self.ref_time / 5),
            proof_size: self.proof_size.saturating_add(self.proof_size / 5),
        }
    }
}

#[derive(Decode)]
enum StorageDeposit {
    Refund(#[allow(dead_code)] u128),
    Charge(#[allow(dead_code)] u128),
}

/// `Code<Hash>` of the instantiate runtime API.
#[derive(Encode)]
enum Code {
    #[allow(dead_code)]
    Upload(Vec<u8>),
    #[allow(dead_code)]
    Existing([u8; 32]),
}

/// When a write counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Finality {
    /// Once its block is the best block: quick; a reorganisation could still drop it.
    #[default]
    Best,
    /// Once its block is finalised: what a chain with finality (GRANDPA) guarantees.
    Finalized,
}

impl std::str::FromStr for Finality {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "best" => Ok(Self::Best),
            "finalized" | "finalised" => Ok(Self::Finalized),
            other => Err(format!("{other:?}: expected best or finalized")),
        }
    }
}

impl std::fmt::Display for Finality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Best => "best",
            Self::Finalized => "finalized",
        })
    }
}

#[derive(Clone)]
pub struct ChainClient {
    api: OnlineClient<Config>,
    rpc: LegacyRpcMethods<Config>,
    url: String,
    finality: Finality,
    units: Units,
}

impl ChainClient {
    pub async fn connect(url: &str) -> Result<Self> {
        let connect_err = |source: subxt::Error| ChainError::Connect {
            url: url.into(),
            source: Box::new(source),
        };
        let rpc_client = RpcClient::from_url(url).await.map_err(connect_err)?;
        let api = OnlineClient::<Config>::from_rpc_client(rpc_client.clone())
            .await
            .map_err(connect_err)?;
        let rpc = LegacyRpcMethods::new(rpc_client);
        // A chain that names no token reads in the default units; amounts stay exact.
        let units = match rpc.system_properties().await {
            Ok(props) => Units::from_properties(&props),
            Err(e) => {
                tracing::debug!(target: "merit_chain", "no system_properties ({e}): default units");
                Units::default()
            }
        };
        Ok(Self {
            api,
            rpc,
            url: url.into(),
            finality: Finality::Best,
            units,
        })
    }

    /// Writes wait for `finality` (the default: the best block).
    pub fn with_finality(mut self, finality: Finality) -> Self {
        self.finality = finality;
        self
    }

    /// The chain's token symbol and decimals.
    pub fn units(&self) -> &Units {
        &self.units
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn api(&self) -> &OnlineClient<Config> {
        &self.api
    }

    /// `system_health`: (peers, is_syncing).
    pub async fn health(&self) -> Result<(usize, bool)> {
        let h = self.rpc.system_health().await?;
        Ok((h.peers, h.is_syncing))
    }

    async fn best_hash(&self) -> Result<<Config as subxt::Config>::Hash> {
        self.rpc
            .chain_get_block_hash(None)
            .await?
            .ok_or_else(|| ChainError::Decode {
                what: "best block hash".into(),
                detail: "none".into(),
            })
    }

    /// Dry-runs `instantiate_with_code`; returns the would-be address.
    pub async fn dry_run_instantiate(
        &self,
        origin: &AccountId32,
        code: &[u8],
        data: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<DryRun<(ExecReturn, AccountId32)>> {
        let args = (
            origin.0,
            0u128,
            None::<Weight>,
            None::<u128>,
            Code::Upload(code.to_vec()),
            data,
            salt,
        )
            .encode();
        let bytes = self
            .rpc
            .state_call("ContractsApi_instantiate", Some(&args), None)
            .await?;
        self.decode_contract_result(&bytes, "instantiate", |cur| {
            let ret = ExecReturn::decode(cur)?;
            let account = <[u8; 32]>::decode(cur)?;
            Ok((ret, AccountId32(account)))
        })
    }

    /// Decodes `ContractResult<Result<R, DispatchError>, ..>`; the trailing events are ignored.
    fn decode_contract_result<R>(
        &self,
        bytes: &[u8],
        what: &str,
        ok: impl FnOnce(&mut &[u8]) -> std::result::Result<R, parity_scale_codec::Error>,
    ) -> Result<DryRun<R>> {
        let decode_err = |e: parity_scale_codec::Error| ChainError::Decode {
            what: format!("ContractResult of {what}"),
            detail: e.to_string(),
        };
        let cur = &mut &bytes[..];
        let _gas_consumed = Weight::decode(cur).map_err(decode_err)?;
        let gas_required = Weight::decode(cur).map_err(decode_err)?;
        let _deposit = StorageDeposit::decode(cur).map_err(decode_err)?;
        let debug = Vec::<u8>::decode(cur).map_err(decode_err)?;
        match u8::decode(cur).map_err(decode_err)? {
            0 => Ok(DryRun {
                gas_required,
                result: ok(cur).map_err(decode_err)?,
            }),
            1 => {
                let detail =
                    match subxt::error::DispatchError::decode_from(*cur, self.api.metadata()) {
                        Ok(e) => e.to_string(),
                        Err(e) => format!("undecodable dispatch error ({e})"),
                    };
                let debug = String::from_utf8_lossy(&debug);
                Err(ChainError::Dispatch {
                    call: what.into(),
                    detail: if debug.is_empty() {
                        detail
                    } else {
                        format!("{detail}; debug: {debug}")
                    },
                })
            }
            t => Err(ChainError::Decode {
                what: format!("result of {what}"),
                detail: format!("bad tag {t}"),
            }),
        }
    }

    /// Submits `System::remark`: on the dev node's instant seal every extrinsic makes a
    /// block, so this is how tests and the demo let block-number deadlines pass.
    pub async fn remark(&self, signer: &Signer) -> Result<()> {
        let tx = subxt::dynamic::tx("System", "remark", vec![Value::from_bytes(b"merit")]);
        self.submit(signer, &tx, "System::remark").await.map(drop)
    }

    pub(crate) async fn submit<Call: subxt::tx::Payload>(
        &self,
        signer: &Signer,
        call: &Call,
        what: &str,
    ) -> Result<ExtrinsicEvents<Config>> {
        let dispatch = |e: subxt::Error| match e {
            subxt::Error::Runtime(d) => ChainError::Dispatch {
                call: what.into(),
                detail: d.to_string(),
            },
            other => ChainError::Rpc(Box::new(other)),
        };
        // Nonce at the best block, not the finalised one: the dev node may lag finality.
        let best = self.best_hash().await?;
        let nonce = self
            .api
            .blocks()
            .at(best)
            .await?
            .account_nonce(&account_of(signer))
            .await?;
        let params = DefaultExtrinsicParamsBuilder::<Config>::new()
            .nonce(nonce)
            .build();
        let tx = self
            .api
            .tx()
            .create_signed_offline(call, signer, params)
            .map_err(dispatch)?;
        self.check_fee(&tx, signer, what).await?;
        let mut progress = tx.submit_and_watch().await.map_err(dispatch)?;
        while let Some(status) = progress.next().await {
            match status.map_err(dispatch)? {
                TxStatus::InFinalizedBlock(b) => {
                    return b.wait_for_success().await.map_err(dispatch);
                }
                TxStatus::InBestBlock(b) if self.finality == Finality::Best => {
                    return b.wait_for_success().await.map_err(dispatch);
                }
                TxStatus::Error { message }
                | TxStatus::Invalid { message }
                | TxStatus::Dropped { message } => {
                    return Err(ChainError::Dispatch {
                        call: what.into(),
                        detail: message,
                    });
                }
                _ => continue,
            }
        }
        Err(ChainError::Dispatch {
            call: what.into(),
            detail: "transaction status stream ended".into(),
        })
    }
}

impl ChainClient {
    /// Estimates the fee of the signed `tx` and logs it in the chain's units; refuses,
    /// before anything is sent, a write the signer cannot pay for. A chain without
    /// fees (the dev node, whose estimate is 0) or without a payment API passes.
    async fn check_fee(
        &self,
        tx: &subxt::tx::SubmittableExtrinsic<Config, OnlineClient<Config>>,
        signer: &Signer,
        what: &str,
    ) -> Result<()> {
        let fee = match tx.partial_fee_estimate().await {
            Ok(fee) => fee,
            Err(e) => {
                tracing::debug!(target: "merit_chain", "{what}: no fee estimate ({e})");
                return Ok(());
            }
        };
        if fee == 0 {
            return Ok(());
        }
        tracing::info!(target: "merit_chain", "{what}: fee about {}", self.units.format(fee));
        let account = account_of(signer);
        let have = ChainBackend::free_balance(self, &account).await?;
        if have < fee {
            return Err(ChainError::CannotPayFee(Box::new(FeeShortfall {
                call: what.into(),
                account: account.to_string(),
                fee: self.units.format(fee),
                have: self.units.format(have),
            })));
        }
        Ok(())
    }
}

/// The `Contracts::ContractEmitted` events among an extrinsic's events.
fn contract_events(events: &ExtrinsicEvents<Config>) -> Result<Vec<ContractEvent>> {
    let mut out = Vec::new();
    for ev in events.iter() {
        let ev = ev?;
        if ev.pallet_name() != "Contracts" || ev.variant_name() != "ContractEmitted" {
            continue;
        }
        let (contract, data) =
            <([u8; 32], Vec<u8>)>::decode(&mut ev.field_bytes()).map_err(|e| {
                ChainError::Decode {
                    what: "ContractEmitted".into(),
                    detail: e.to_string(),
                }
            })?;
        out.push(ContractEvent {
            contract: AccountId32(contract),
            topics: ev.topics().iter().map(|t| t.0).collect(),
            data,
        });
    }
    Ok(out)
}

/// The node as a backend. These methods live only here: callers bring the trait into scope
/// (`use merit_chain::ChainBackend`).
#[async_trait]
impl ChainBackend for ChainClient {
    fn kind(&self) -> BackendKind {
        BackendKind::Node
    }

    async fn best_block_number(&self) -> Result<u32> {
        let header = self
            .rpc
            .chain_get_header(None)
            .await?
            .ok_or_else(|| ChainError::Decode {
                what: "best header".into(),
                detail: "none".into(),
            })?;
        Ok(header.number)
    }

    async fn free_balance(&self, who: &AccountId32) -> Result<u128> {
        let best = self.best_hash().await?;
        let addr = subxt::dynamic::storage("System", "Account", vec![Value::from_bytes(who.0)]);
        let Some(info) = self.api.storage().at(best).fetch(&addr).await? else {
            return Ok(0);
        };
        // AccountInfo { nonce, consumers, providers, sufficients: u32, data: { free: u128, .. } }
        let raw = info.encoded();
        let free = raw
            .get(16..32)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(u128::from_le_bytes)
            .ok_or_else(|| ChainError::Decode {
                what: "System.Account".into(),
                detail: format!("{} bytes", raw.len()),
            })?;
        Ok(free)
    }

    async fn transfer(&self, signer: &Signer, to: &AccountId32, value: u128) -> Result<()> {
        let tx = subxt::dynamic::tx(
            "Balances",
            "transfer_keep_alive",
            vec![
                Value::unnamed_variant("Id", [Value::from_bytes(to.0)]),
                Value::u128(value),
            ],
        );
        self.submit(signer, &tx, "Balances::transfer_keep_alive")
            .await
            .map(drop)
    }

    async fn dry_run_call(
        &self,
        origin: &AccountId32,
        dest: &AccountId32,
        value: u128,
        input: Vec<u8>,
        what: &str,
    ) -> Result<DryRun<ExecReturn>> {
        let args = (origin.0, dest.0, value, None::<Weight>, None::<u128>, input).encode();
        let bytes = self
            .rpc
            .state_call("ContractsApi_call", Some(&args), None)
            .await?;
        self.decode_contract_result(&bytes, what, |cur| ExecReturn::decode(cur))
    }

    async fn call(
        &self,
        signer: &Signer,
        dest: &AccountId32,
        value: u128,
        gas: Weight,
        input: Vec<u8>,
        what: &str,
    ) -> Result<Vec<ContractEvent>> {
        let tx = subxt::dynamic::tx(
            "Contracts",
            "call",
            vec![
                Value::unnamed_variant("Id", [Value::from_bytes(dest.0)]),
                Value::u128(value),
                gas.with_margin().to_value(),
                Value::unnamed_variant("None", []),
                Value::from_bytes(input),
            ],
        );
        let events = self.submit(signer, &tx, what).await?;
        contract_events(&events)
    }

    async fn instantiate_with_code(
        &self,
        signer: &Signer,
        code: &[u8],
        data: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<AccountId32> {
        let origin = account_of(signer);
        let dry = self
            .dry_run_instantiate(&origin, code, data.clone(), salt.clone())
            .await?;
        let (ret, _) = &dry.result;
        if ret.reverted() {
            return Err(ChainError::Reverted {
                message: "new",
                data: hex::encode(&ret.data),
            });
        }
        let tx = subxt::dynamic::tx(
            "Contracts",
            "instantiate_with_code",
            vec![
                Value::u128(0),
                dry.gas_required.with_margin().to_value(),
                Value::unnamed_variant("None", []),
                Value::from_bytes(code),
                Value::from_bytes(data),
                Value::from_bytes(salt),
            ],
        );
        let events = self
            .submit(signer, &tx, "Contracts::instantiate_with_code")
            .await?;
        for ev in events.iter() {
            let ev = ev?;
            if ev.pallet_name() == "Contracts" && ev.variant_name() == "Instantiated" {
                let (_deployer, contract) = <([u8; 32], [u8; 32])>::decode(&mut ev.field_bytes())
                    .map_err(|e| ChainError::Decode {
                    what: "Instantiated event".into(),
                    detail: e.to_string(),
                })?;
                return Ok(AccountId32(contract));
            }
        }
        Err(ChainError::Decode {
            what: "instantiate events".into(),
            detail: "no Contracts::Instantiated".into(),
        })
    }

    async fn advance_blocks(&self, signer: &Signer, n: u32) -> Result<()> {
        for _ in 0..n {
            self.remark(signer).await?;
        }
        Ok(())
    }
}
