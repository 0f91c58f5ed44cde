//! `merit-chain-embedded`: a pallet-contracts chain inside this process.
//!
//! The runtime ([`runtime`]) is substrate-contracts-node 0.42.0's, pallet for pallet and
//! limit for limit (same crate versions, pinned in Cargo.toml), so a contract that works
//! here works on the node. [`EmbeddedChain`] implements `merit_chain::ChainBackend`, the
//! same seam the node client implements, so `merit_chain::Marketplace` drives either.
//!
//! Like the dev node's instant seal, every write builds one block: initialise block
//! `n + 1`, apply the call as a signed extrinsic would be dispatched, finalise. Reads
//! (dry-runs) run on the state after the best block, as the node's `ContractsApi` does.
//! No networking, no consensus, no transaction pool, no fees (see [`runtime`]).
//!
//! [`EmbeddedChain::open`] keeps the chain in a file instead, so that separate processes
//! (`merit devnet up` without the node, then `merit project …`, `merit trainer run`,
//! `merit aggregator run`) share one chain: every operation takes a file lock (shared to
//! read, exclusive to write), reloads the state if another process saved a newer one, and
//! a write saves the new state before the lock is released ([`store`]).

pub mod runtime;
mod store;

use async_trait::async_trait;
use frame_support::dispatch::GetDispatchInfo;
use frame_support::traits::{OnFinalize, OnInitialize};
use merit_chain::backend::{BackendKind, ChainBackend, ContractEvent, DryRun, ExecReturn};
use merit_chain::{account_of, ChainError, Signer, Weight};
use runtime::{AccountId, AllPalletsWithSystem, Balance, Runtime, RuntimeCall, RuntimeOrigin};
use sp_core::{Pair, H256};
use sp_runtime::traits::{Dispatchable, StaticLookup};
use sp_runtime::{BuildStorage, DispatchError};
use std::sync::Mutex;

type Result<T, E = ChainError> = std::result::Result<T, E>;
type System = frame_system::Pallet<Runtime>;
type Contracts = pallet_contracts::Pallet<Runtime>;
type EventRecord = frame_system::EventRecord<runtime::RuntimeEvent, H256>;

/// What the node's `--dev` genesis gives each endowed account.
pub const DEV_ENDOWMENT: Balance = 1 << 60;
/// The node's dev chain endows these (and each one's `//stash`).
const DEV_SEEDS: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];
/// Milliseconds between blocks; only `Timestamp` sees it (the contract counts blocks).
const BLOCK_TIME_MS: u64 = 6_000;

struct State {
    ext: sp_io::TestExternalities,
    best: u32,
    best_hash: H256,
    /// Where the chain lives when it is shared between processes.
    file: Option<store::ChainFile>,
}

impl State {
    /// Runs `f` with the file lock held (if file-backed) on the newest saved state; saves
    /// the state afterwards when `write`.
    fn locked<R>(&mut self, write: bool, f: impl FnOnce(&mut Self) -> R) -> Result<R> {
        let Some(file) = self.file.take() else {
            return Ok(f(self));
        };
        let out = (|| {
            let _guard = file.lock(write)?;
            if let Some(snap) = file.load_if_changed()? {
                self.restore(snap);
            }
            let out = f(self);
            if write {
                file.save(&self.snapshot())?;
            }
            Ok(out)
        })();
        self.file = Some(file);
        out
    }

    fn snapshot(&mut self) -> store::Snapshot {
        let _ = self.ext.commit_all();
        let ext = std::mem::take(&mut self.ext);
        let (raw, root) = ext.into_raw_snapshot();
        self.ext = sp_io::TestExternalities::from_raw_snapshot(
            raw.clone(),
            root,
            sp_core::storage::StateVersion::V1,
        );
        store::Snapshot {
            best: self.best,
            best_hash: self.best_hash,
            root,
            raw,
        }
    }

    fn restore(&mut self, s: store::Snapshot) {
        self.ext = sp_io::TestExternalities::from_raw_snapshot(
            s.raw,
            s.root,
            sp_core::storage::StateVersion::V1,
        );
        self.best = s.best;
        self.best_hash = s.best_hash;
    }
}

/// An in-process pallet-contracts chain with the node's dev accounts funded.
pub struct EmbeddedChain {
    state: Mutex<State>,
}

impl Default for EmbeddedChain {
    fn default() -> Self {
        Self::new()
    }
}

/// The well-known dev accounts (`//Alice` … `//Ferdie`, and each `//stash`).
pub fn dev_accounts() -> Vec<AccountId> {
    DEV_SEEDS
        .iter()
        .flat_map(|s| [format!("//{s}"), format!("//{s}//stash")])
        .map(|uri| {
            let pair = sp_core::sr25519::Pair::from_string(&uri, None)
                .expect("dev derivation paths are valid");
            AccountId::from(pair.public())
        })
        .collect()
}

impl EmbeddedChain {
    /// The chain kept in `path`, shared with every other process that opens it; a new
    /// file starts at genesis (as [`EmbeddedChain::new`]).
    pub fn open(path: &std::path::Path) -> Result<Self> {
        let file = store::ChainFile::new(path);
        let chain = Self::new();
        {
            let mut st = chain.lock();
            let _guard = file.lock(true)?;
            match file.load_if_changed()? {
                Some(snap) => st.restore(snap),
                None => file.save(&st.snapshot())?,
            }
            drop(_guard);
            st.file = Some(file);
        }
        Ok(chain)
    }

    /// Genesis as the node's `--dev` chain spec has it: block 0, dev accounts endowed.
    pub fn new() -> Self {
        let mut storage = frame_system::GenesisConfig::<Runtime>::default()
            .build_storage()
            .expect("system genesis builds");
        pallet_balances::GenesisConfig::<Runtime> {
            balances: dev_accounts()
                .into_iter()
                .map(|a| (a, DEV_ENDOWMENT))
                .collect(),
        }
        .assimilate_storage(&mut storage)
        .expect("balances genesis builds");
        let mut ext = sp_io::TestExternalities::new(storage);
        let genesis = ext.execute_with(|| System::block_hash(0));
        Self {
            state: Mutex::new(State {
                ext,
                best: 0,
                best_hash: genesis,
                file: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic inside a previous call leaves the state as the runtime left it, which
        // is what a node would hold too; carry on with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state after the best block; it must write nothing.
    fn read<R>(&self, f: impl FnOnce() -> R) -> Result<R> {
        self.lock().locked(false, |st| st.ext.execute_with(f))
    }

    /// Runs `f` on the state after the best block and throws away whatever it wrote, as
    /// the node's runtime-API dry-runs do.
    fn dry_run<R>(&self, f: impl FnOnce() -> R) -> Result<R> {
        self.read(|| {
            sp_io::storage::start_transaction();
            let out = f();
            sp_io::storage::rollback_transaction();
            out
        })
    }

    /// Builds the next block around `f`, as the node's instant seal builds one per
    /// extrinsic; returns what `f` returned and the events of the block.
    fn build_block<R>(&self, f: impl FnOnce() -> R) -> Result<(R, Vec<EventRecord>)> {
        self.lock().locked(true, |st| Self::build_block_on(st, f))
    }

    fn build_block_on<R>(st: &mut State, f: impl FnOnce() -> R) -> (R, Vec<EventRecord>) {
        let number = st.best + 1;
        let parent = st.best_hash;
        let (out, events, hash) = st.ext.execute_with(|| {
            System::reset_events();
            System::initialize(&number, &parent, &Default::default());
            pallet_timestamp::Pallet::<Runtime>::set_timestamp(u64::from(number) * BLOCK_TIME_MS);
            AllPalletsWithSystem::on_initialize(number);
            System::note_finished_initialize();
            let out = f();
            System::note_finished_extrinsics();
            AllPalletsWithSystem::on_finalize(number);
            let events = System::read_events_no_consensus().map(|r| *r).collect();
            (out, events, System::finalize().hash())
        });
        // Keep the overlay small: each block's changes go into the backend.
        let _ = st.ext.commit_all();
        st.best = number;
        st.best_hash = hash;
        (out, events)
    }

    /// Dispatches `call` as a signed extrinsic of `who` in a new block; returns the
    /// block's events or the dispatch error by name.
    fn apply(&self, who: AccountId, call: RuntimeCall, what: &str) -> Result<Vec<EventRecord>> {
        let (res, events) = self.build_block(|| {
            let info = call.get_dispatch_info();
            System::inc_account_nonce(&who);
            let res = call.dispatch(RuntimeOrigin::signed(who));
            System::note_applied_extrinsic(&res, info);
            res
        })?;
        res.map_err(|e| dispatch_error(what, e.error))?;
        Ok(events)
    }

    /// Lets `n` blocks pass with nothing in them (one save when file-backed).
    pub fn empty_blocks(&self, n: u32) -> Result<()> {
        self.lock().locked(true, |st| {
            for _ in 0..n {
                Self::build_block_on(st, || ());
            }
        })
    }

    pub fn best_block(&self) -> Result<u32> {
        self.lock().locked(false, |st| st.best)
    }

    pub fn balance(&self, who: &AccountId) -> Result<Balance> {
        self.read(|| pallet_balances::Pallet::<Runtime>::free_balance(who))
    }
}

fn to_account(a: &merit_chain::AccountId32) -> AccountId {
    AccountId::new(a.0)
}

fn from_account(a: &AccountId) -> merit_chain::AccountId32 {
    merit_chain::AccountId32(*<AccountId as AsRef<[u8; 32]>>::as_ref(a))
}

fn to_weight(w: Weight) -> frame_support::weights::Weight {
    frame_support::weights::Weight::from_parts(w.ref_time, w.proof_size)
}

fn from_weight(w: frame_support::weights::Weight) -> Weight {
    Weight {
        ref_time: w.ref_time(),
        proof_size: w.proof_size(),
    }
}

/// A dispatch error named as the node reports it: `Pallet::Error` for module errors.
fn dispatch_error(what: &str, e: DispatchError) -> ChainError {
    let detail = match e {
        DispatchError::Module(m) => {
            let pallet = match m.index {
                0 => "System",
                1 => "RandomnessCollectiveFlip",
                3 => "Timestamp",
                4 => "Balances",
                8 => "Contracts",
                _ => "Unknown",
            };
            format!("{pallet}::{}", m.message.unwrap_or("unnamed error"))
        }
        other => format!("{other:?}"),
    };
    ChainError::Dispatch {
        call: what.into(),
        detail,
    }
}

fn with_debug(err: ChainError, debug: &[u8]) -> ChainError {
    match err {
        ChainError::Dispatch { call, detail } if !debug.is_empty() => ChainError::Dispatch {
            call,
            detail: format!("{detail}; debug: {}", String::from_utf8_lossy(debug)),
        },
        other => other,
    }
}

#[async_trait]
impl ChainBackend for EmbeddedChain {
    fn kind(&self) -> BackendKind {
        BackendKind::Embedded
    }

    async fn best_block_number(&self) -> Result<u32> {
        self.best_block()
    }

    async fn free_balance(&self, who: &merit_chain::AccountId32) -> Result<u128> {
        self.balance(&to_account(who))
    }

    async fn dry_run_call(
        &self,
        origin: &merit_chain::AccountId32,
        dest: &merit_chain::AccountId32,
        value: u128,
        input: Vec<u8>,
        what: &str,
    ) -> Result<DryRun<ExecReturn>> {
        let (origin, dest) = (to_account(origin), to_account(dest));
        let r = self.dry_run(|| {
            Contracts::bare_call(
                origin,
                dest,
                value,
                runtime::max_block_weight(),
                None,
                input,
                pallet_contracts::DebugInfo::UnsafeDebug,
                pallet_contracts::CollectEvents::Skip,
                pallet_contracts::Determinism::Enforced,
            )
        })?;
        match r.result {
            Ok(ret) => Ok(DryRun {
                gas_required: from_weight(r.gas_required),
                result: ExecReturn {
                    flags: ret.flags.bits(),
                    data: ret.data,
                },
            }),
            Err(e) => Err(with_debug(dispatch_error(what, e), &r.debug_message)),
        }
    }

    async fn call(
        &self,
        signer: &Signer,
        dest: &merit_chain::AccountId32,
        value: u128,
        gas: Weight,
        input: Vec<u8>,
        what: &str,
    ) -> Result<Vec<ContractEvent>> {
        let call = RuntimeCall::Contracts(pallet_contracts::Call::call {
            dest: <Runtime as frame_system::Config>::Lookup::unlookup(to_account(dest)),
            value,
            gas_limit: to_weight(gas.with_margin()),
            storage_deposit_limit: None,
            data: input,
        });
        let events = self.apply(to_account(&account_of(signer)), call, what)?;
        Ok(contract_events(&events))
    }

    async fn instantiate_with_code(
        &self,
        signer: &Signer,
        code: &[u8],
        data: Vec<u8>,
        salt: Vec<u8>,
    ) -> Result<merit_chain::AccountId32> {
        let origin = to_account(&account_of(signer));
        let dry = self.dry_run(|| {
            Contracts::bare_instantiate(
                origin.clone(),
                0,
                runtime::max_block_weight(),
                None,
                pallet_contracts::Code::Upload(code.to_vec()),
                data.clone(),
                salt.clone(),
                pallet_contracts::DebugInfo::UnsafeDebug,
                pallet_contracts::CollectEvents::Skip,
            )
        })?;
        let ret = dry
            .result
            .map_err(|e| with_debug(dispatch_error("instantiate", e), &dry.debug_message))?;
        if ret.result.did_revert() {
            return Err(ChainError::Reverted {
                message: "new",
                data: hex_string(&ret.result.data),
            });
        }
        let gas = from_weight(dry.gas_required).with_margin();
        let call = RuntimeCall::Contracts(pallet_contracts::Call::instantiate_with_code {
            value: 0,
            gas_limit: to_weight(gas),
            storage_deposit_limit: None,
            code: code.to_vec(),
            data,
            salt,
        });
        let events = self.apply(origin, call, "Contracts::instantiate_with_code")?;
        events
            .iter()
            .find_map(|e| match &e.event {
                runtime::RuntimeEvent::Contracts(pallet_contracts::Event::Instantiated {
                    contract,
                    ..
                }) => Some(from_account(contract)),
                _ => None,
            })
            .ok_or_else(|| ChainError::Decode {
                what: "instantiate events".into(),
                detail: "no Contracts::Instantiated".into(),
            })
    }

    async fn advance_blocks(&self, _signer: &Signer, n: u32) -> Result<()> {
        self.empty_blocks(n)
    }

    async fn transfer(
        &self,
        signer: &Signer,
        to: &merit_chain::AccountId32,
        value: u128,
    ) -> Result<()> {
        let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
            dest: <Runtime as frame_system::Config>::Lookup::unlookup(to_account(to)),
            value,
        });
        let from = to_account(&account_of(signer));
        self.apply(from, call, "Balances::transfer_keep_alive")
            .map(drop)
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `ContractEmitted` events of a block, with their record topics.
fn contract_events(events: &[EventRecord]) -> Vec<ContractEvent> {
    events
        .iter()
        .filter_map(|r| match &r.event {
            runtime::RuntimeEvent::Contracts(pallet_contracts::Event::ContractEmitted {
                contract,
                data,
            }) => Some(ContractEvent {
                contract: from_account(contract),
                topics: r.topics.iter().map(|t| t.0).collect(),
                data: data.clone(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_chain::dev_signer;

    #[test]
    fn genesis_endows_the_dev_accounts_as_the_node_does() {
        let chain = EmbeddedChain::new();
        let accounts = dev_accounts();
        assert_eq!(accounts.len(), 12);
        let alice = from_account(&accounts[0]);
        assert_eq!(alice, account_of(&dev_signer("alice").unwrap()));
        for a in &accounts {
            assert_eq!(chain.balance(a).unwrap(), DEV_ENDOWMENT);
        }
        assert_eq!(chain.best_block().unwrap(), 0);
    }

    #[tokio::test]
    async fn every_write_and_every_advance_builds_one_block() {
        let chain = EmbeddedChain::new();
        let alice = dev_signer("alice").unwrap();
        chain.advance_blocks(&alice, 3).await.unwrap();
        assert_eq!(chain.best_block_number().await.unwrap(), 3);
        // A failed write still makes its block, as a failed extrinsic does on the node.
        let e = chain
            .instantiate_with_code(&alice, b"not wasm", vec![], vec![])
            .await
            .unwrap_err();
        assert_eq!(
            chain.best_block().unwrap(),
            3,
            "refused at the dry-run: no block"
        );
        assert!(e.to_string().contains("Contracts::CodeRejected"), "{e}");
    }

    #[tokio::test]
    async fn calls_to_a_missing_contract_are_refused_by_name() {
        let chain = EmbeddedChain::new();
        let alice = dev_signer("alice").unwrap();
        let nobody = merit_chain::AccountId32([7; 32]);
        let e = chain
            .dry_run_call(&account_of(&alice), &nobody, 0, vec![1, 2, 3, 4], "probe")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Contracts::ContractNotFound"), "{e}");
        let e = chain
            .call(&alice, &nobody, 0, Weight::default(), vec![], "probe")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Contracts::"), "{e}");
        // The failed call's block exists; nothing moved.
        assert_eq!(chain.best_block().unwrap(), 1);
        assert_eq!(
            chain.balance(&to_account(&account_of(&alice))).unwrap(),
            DEV_ENDOWMENT
        );
    }

    #[tokio::test]
    async fn a_chain_file_is_shared_between_handles_and_survives_them() {
        let dir = std::env::temp_dir().join(format!("merit-chain-file-{}", std::process::id()));
        let path = dir.join("chain.state");
        let _ = std::fs::remove_dir_all(&dir);
        let alice = dev_signer("alice").unwrap();
        let bob = dev_accounts()[2].clone();
        // Two handles on one file stand for two processes.
        let a = EmbeddedChain::open(&path).unwrap();
        let b = EmbeddedChain::open(&path).unwrap();
        a.advance_blocks(&alice, 2).await.unwrap();
        assert_eq!(b.best_block().unwrap(), 2, "b sees a's blocks");
        let transfer = RuntimeCall::Balances(pallet_balances::Call::transfer_allow_death {
            dest: <Runtime as frame_system::Config>::Lookup::unlookup(bob.clone()),
            value: 5,
        });
        b.apply(dev_accounts()[0].clone(), transfer, "transfer")
            .unwrap();
        assert_eq!(
            a.balance(&bob).unwrap(),
            DEV_ENDOWMENT + 5,
            "a sees b's write"
        );
        assert_eq!(a.best_block().unwrap(), 3);
        drop((a, b));
        let c = EmbeddedChain::open(&path).unwrap();
        assert_eq!(c.best_block().unwrap(), 3, "the chain outlives its handles");
        assert_eq!(c.balance(&bob).unwrap(), DEV_ENDOWMENT + 5);

        std::fs::write(&path, b"garbage").unwrap();
        let e = c.best_block().unwrap_err().to_string();
        assert!(
            e.contains("chain.state") && e.contains("not a Merit chain file"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
