//! Refusals that used to surface as the pallet's bare errors now come back by name, on the
//! embedded chain (the node's own pallet-contracts runtime): a value the signer cannot pay,
//! a join that lost a race to another transaction, and the contract's checks on who may
//! join and what a project may ask.

use async_trait::async_trait;
use merit_chain::backend::{BackendKind, ChainBackend, ContractEvent, DryRun, ExecReturn};
use merit_chain::client::{account_of, Weight};
use merit_chain::AccountId32;
use merit_chain::{dev_signer, ChainError, ContractBundle, Marketplace, Signer};
use merit_protocol::abi::{Deadlines, MarketError, ProjectParams, MAX_DEPOSIT};
use merit_protocol::commit::Committer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const STAKE: u128 = 1_000_000;

fn params(aggregator: &Signer) -> ProjectParams {
    let cid = b"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".to_vec();
    ProjectParams {
        spec_cid: cid.clone(),
        model_cid: cid.clone(),
        model_commitment: Committer::new().commit_model(&[1, 2, 3]),
        proving_key_cid: cid,
        rounds: 1,
        min_trainers: 2,
        slots: 3,
        trainer_stake: STAKE,
        aggregator: account_of(aggregator).0,
        aggregator_fee: 0,
        aggregator_bond: 0,
        max_rejected_rounds: 0,
        deadlines: Deadlines {
            join: 100,
            commit: 100,
            reveal: 100,
            aggregate: 100,
        },
    }
}

fn refusal(e: &ChainError) -> Option<MarketError> {
    match e {
        ChainError::Contract { error, .. } => Some(*error),
        _ => None,
    }
}

/// A chain on which the first `join` sent is overtaken: the same transaction lands once
/// before it, as when a trainer node is started twice and both processes join at once.
struct Overtaken {
    inner: Arc<dyn ChainBackend>,
    raced: AtomicBool,
}

#[async_trait]
impl ChainBackend for Overtaken {
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    async fn best_block_number(&self) -> merit_chain::error::Result<u32> {
        self.inner.best_block_number().await
    }
    async fn free_balance(&self, who: &AccountId32) -> merit_chain::error::Result<u128> {
        self.inner.free_balance(who).await
    }
    async fn dry_run_call(
        &self,
        origin: &AccountId32,
        dest: &AccountId32,
        value: u128,
        input: Vec<u8>,
        what: &str,
    ) -> merit_chain::error::Result<DryRun<ExecReturn>> {
        self.inner
            .dry_run_call(origin, dest, value, input, what)
            .await
    }
    async fn call(
        &self,
        signer: &Signer,
        dest: &AccountId32,
        value: u128,
        gas: Weight,
        input: Vec<u8>,
        what: &str,
    ) -> merit_chain::error::Result<Vec<ContractEvent>> {
        if what == "join" && !self.raced.swap(true, Ordering::SeqCst) {
            self.inner
                .call(signer, dest, value, gas, input.clone(), what)
                .await?;
        }
        self.inner.call(signer, dest, value, gas, input, what).await
    }
    async fn instantiate_with_code(
        &self,
        signer: &Signer,
        code: &[u8],
        data: Vec<u8>,
        salt: Vec<u8>,
    ) -> merit_chain::error::Result<AccountId32> {
        self.inner
            .instantiate_with_code(signer, code, data, salt)
            .await
    }
    async fn advance_blocks(&self, signer: &Signer, n: u32) -> merit_chain::error::Result<()> {
        self.inner.advance_blocks(signer, n).await
    }
    async fn transfer(
        &self,
        signer: &Signer,
        to: &AccountId32,
        value: u128,
    ) -> merit_chain::error::Result<()> {
        self.inner.transfer(signer, to, value).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_come_back_by_name() {
    let (_chain, market) = merit_cli::chain::embedded_marketplace(None).await.unwrap();
    let (alice, bob, charlie) = (
        dev_signer("alice").unwrap(),
        dev_signer("bob").unwrap(),
        dev_signer("charlie").unwrap(),
    );
    let id = market
        .create_project(&alice, &params(&charlie), &[], 0)
        .await
        .err()
        .map(|e| refusal(&e));
    assert_eq!(id, Some(Some(MarketError::EmptyPool)));
    let vk = merit_tests::test_verifying_key(3, 4);
    let id = market
        .create_project(&alice, &params(&charlie), &vk, 5_000_000)
        .await
        .unwrap();

    // The owner and the aggregator may not train in their own project.
    for (who, name) in [(&alice, "owner"), (&charlie, "aggregator")] {
        let e = market.join(who, id, STAKE).await.unwrap_err();
        assert_eq!(
            refusal(&e),
            Some(MarketError::ConflictOfInterest),
            "{name}: {e}"
        );
    }

    // A stake nobody could pay is refused at creation, not at every join.
    let mut greedy = params(&charlie);
    greedy.trainer_stake = u128::MAX;
    let e = market
        .create_project(&alice, &greedy, &vk, 5_000_000)
        .await
        .unwrap_err();
    assert_eq!(refusal(&e), Some(MarketError::DepositTooLarge), "{e}");
    greedy.trainer_stake = MAX_DEPOSIT;
    let rich = market
        .create_project(&alice, &greedy, &vk, 5_000_000)
        .await
        .unwrap();

    // A stake the trainer cannot pay: named, with both amounts, before anything is sent.
    let before = market.best_block_number().await.unwrap();
    let e = market.join(&bob, rich, MAX_DEPOSIT).await.unwrap_err();
    assert!(
        matches!(&e, ChainError::CannotPay { message: "join", need, .. } if *need == MAX_DEPOSIT),
        "{e}"
    );
    assert!(e.to_string().contains(&account_of(&bob).to_string()), "{e}");
    assert_eq!(market.best_block_number().await.unwrap(), before);

    // A join overtaken by the same join: the contract's reason, not `ContractReverted`.
    let racing = Marketplace::at(
        Arc::new(Overtaken {
            inner: market.backend().clone(),
            raced: AtomicBool::new(false),
        }),
        Arc::new(ContractBundle::load(&merit_cli::contract::default_bundle()).unwrap()),
        market.address().clone(),
        account_of(&alice),
    );
    let e = racing.join(&bob, id, STAKE).await.unwrap_err();
    assert_eq!(refusal(&e), Some(MarketError::AlreadyJoined), "{e}");
    assert_eq!(market.project(id).await.unwrap().trainers, 1);
}
