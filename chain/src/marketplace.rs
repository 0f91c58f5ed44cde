//! The typed API of the marketplace contract. Selectors come from the bundle; argument and
//! return types come from `merit_protocol::abi`, which the contract itself uses.

use crate::bundle::ContractBundle;
use crate::client::{account_of, ChainClient, Config, Signer};
use crate::error::{ChainError, Result};
use merit_protocol::abi::{AccountBytes, MarketError, ProjectParams, ProjectView};
use parity_scale_codec::{Decode, Encode};
use std::sync::Arc;
use subxt::blocks::ExtrinsicEvents;
use subxt::utils::AccountId32;

/// The contract's events, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    ProjectCreated {
        project: u32,
        owner: AccountBytes,
        aggregator: AccountBytes,
        pool: u128,
    },
}

#[derive(Clone)]
pub struct Marketplace {
    client: ChainClient,
    bundle: Arc<ContractBundle>,
    address: AccountId32,
    /// Origin of read-only dry-runs (any existing account will do).
    reader: AccountId32,
}

impl Marketplace {
    /// Uploads and instantiates the contract. `salt` makes the address unique per deployment.
    pub async fn deploy(
        client: &ChainClient,
        bundle: Arc<ContractBundle>,
        signer: &Signer,
        salt: Vec<u8>,
    ) -> Result<Self> {
        let data = bundle.constructor("new")?.to_vec();
        let address = client
            .instantiate_with_code(signer, &bundle.wasm, data, salt)
            .await?;
        Ok(Self::at(
            client.clone(),
            bundle,
            address,
            account_of(signer),
        ))
    }

    /// A handle on an already deployed contract.
    pub fn at(
        client: ChainClient,
        bundle: Arc<ContractBundle>,
        address: AccountId32,
        reader: AccountId32,
    ) -> Self {
        Self {
            client,
            bundle,
            address,
            reader,
        }
    }

    pub fn address(&self) -> &AccountId32 {
        &self.address
    }

    pub fn client(&self) -> &ChainClient {
        &self.client
    }

    pub fn bundle(&self) -> &ContractBundle {
        &self.bundle
    }

    fn input(&self, label: &str, args: impl Encode) -> Result<Vec<u8>> {
        let mut input = self.bundle.message(label)?.to_vec();
        args.encode_to(&mut input);
        Ok(input)
    }

    /// Decodes ink!'s `Result<T, LangError>` envelope.
    fn unwrap_lang<T: Decode>(label: &'static str, data: &[u8]) -> Result<T> {
        match <std::result::Result<T, u8>>::decode(&mut &data[..]) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ChainError::Dispatch {
                call: label.into(),
                detail: "the contract could not read the input (bundle and deployed code differ?)"
                    .into(),
            }),
            Err(e) => Err(ChainError::Decode {
                what: format!("return of `{label}`"),
                detail: e.to_string(),
            }),
        }
    }

    /// A read-only message.
    async fn read<T: Decode>(&self, label: &'static str, args: impl Encode) -> Result<T> {
        let input = self.input(label, args)?;
        let dry = self
            .client
            .dry_run_call(&self.reader, &self.address, 0, input, label)
            .await?;
        Self::unwrap_lang(label, &dry.result.data)
    }

    /// A state-changing message returning `Result<T, MarketError>`: dry-run first (a refusal
    /// comes back by name and costs nothing), then the signed extrinsic.
    async fn exec<T: Decode>(
        &self,
        signer: &Signer,
        label: &'static str,
        args: impl Encode,
        value: u128,
    ) -> Result<(T, ExtrinsicEvents<Config>)> {
        let input = self.input(label, args)?;
        let origin = account_of(signer);
        let dry = self
            .client
            .dry_run_call(&origin, &self.address, value, input.clone(), label)
            .await?;
        let out: std::result::Result<T, MarketError> = Self::unwrap_lang(label, &dry.result.data)?;
        let out = out.map_err(|error| ChainError::Contract {
            message: label,
            error,
        })?;
        if dry.result.reverted() {
            return Err(ChainError::Reverted {
                message: label,
                data: hex::encode(&dry.result.data),
            });
        }
        let events = self
            .client
            .call(signer, &self.address, value, dry.gas_required, input, label)
            .await?;
        Ok((out, events))
    }

    /// This contract's events among `events`.
    pub fn decode_events(&self, events: &ExtrinsicEvents<Config>) -> Result<Vec<MarketEvent>> {
        let created = self.bundle.event_topic("ProjectCreated");
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
            if contract != self.address.0 {
                continue;
            }
            let topic = ev.topics().first().map(|h| h.0);
            if topic.is_some() && topic == created {
                let (project, owner, aggregator, pool) =
                    <(u32, AccountBytes, AccountBytes, u128)>::decode(&mut &data[..]).map_err(
                        |e| ChainError::Decode {
                            what: "ProjectCreated".into(),
                            detail: e.to_string(),
                        },
                    )?;
                out.push(MarketEvent::ProjectCreated {
                    project,
                    owner,
                    aggregator,
                    pool,
                });
            }
        }
        Ok(out)
    }

    pub async fn project_count(&self) -> Result<u32> {
        self.read("project_count", ()).await
    }

    pub async fn project(&self, id: u32) -> Result<ProjectView> {
        let r: std::result::Result<ProjectView, MarketError> = self.read("project", id).await?;
        r.map_err(|error| ChainError::Contract {
            message: "project",
            error,
        })
    }

    /// Posts a project escrowing `pool`; returns its id (from the `ProjectCreated` event).
    pub async fn create_project(
        &self,
        signer: &Signer,
        params: &ProjectParams,
        pool: u128,
    ) -> Result<u32> {
        // Refuse locally with the contract's own error before paying any fee.
        params.validate().map_err(|error| ChainError::Contract {
            message: "create_project",
            error,
        })?;
        if pool == 0 {
            return Err(ChainError::Contract {
                message: "create_project",
                error: MarketError::EmptyPool,
            });
        }
        let (_, events) = self
            .exec::<u32>(signer, "create_project", params, pool)
            .await?;
        self.decode_events(&events)?
            .into_iter()
            .map(|MarketEvent::ProjectCreated { project, .. }| project)
            .next()
            .ok_or_else(|| ChainError::Decode {
                what: "create_project events".into(),
                detail: "no ProjectCreated".into(),
            })
    }
}
