//! The Merit marketplace contract (ink! 5).
//!
//! This is the foundation slice: a project owner escrows a reward pool with
//! `create_project`, and anyone reads projects back. Joining, rounds, the on-chain Groth16
//! check and payouts follow the state machine in DESIGN.md and land with their own issue.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod marketplace {
    use ink::storage::Mapping;
    use merit_protocol::abi::{MarketError, Phase, ProjectParams, ProjectView};

    /// A posted project as stored.
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct Project {
        owner: AccountId,
        params: ProjectParams,
        pool: Balance,
        phase: Phase,
        round: u32,
        created_at: BlockNumber,
    }

    #[ink(storage)]
    pub struct Marketplace {
        /// Id the next project gets; ids are dense from 0.
        next_project: u32,
        projects: Mapping<u32, Project>,
    }

    /// A project was posted and its pool escrowed.
    #[ink(event)]
    pub struct ProjectCreated {
        #[ink(topic)]
        project: u32,
        #[ink(topic)]
        owner: AccountId,
        #[ink(topic)]
        aggregator: AccountId,
        pool: Balance,
    }

    pub type Result<T> = core::result::Result<T, MarketError>;

    impl Default for Marketplace {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Marketplace {
        #[ink(constructor)]
        pub fn new() -> Self {
            Self {
                next_project: 0,
                projects: Mapping::default(),
            }
        }

        /// Posts a project; the transferred value is its reward pool, held in escrow.
        #[ink(message, payable)]
        pub fn create_project(&mut self, params: ProjectParams) -> Result<u32> {
            let pool = self.env().transferred_value();
            if pool == 0 {
                return Err(MarketError::EmptyPool);
            }
            params.validate()?;
            let id = self.next_project;
            let next = id.checked_add(1).ok_or(MarketError::Overflow)?;
            let owner = self.env().caller();
            let aggregator = AccountId::from(params.aggregator);
            self.projects.insert(
                id,
                &Project {
                    owner,
                    params,
                    pool,
                    phase: Phase::Open,
                    round: 0,
                    created_at: self.env().block_number(),
                },
            );
            self.next_project = next;
            self.env().emit_event(ProjectCreated {
                project: id,
                owner,
                aggregator,
                pool,
            });
            Ok(id)
        }

        /// How many projects were ever posted (ids are `0..project_count`).
        #[ink(message)]
        pub fn project_count(&self) -> u32 {
            self.next_project
        }

        /// One project, or `NoSuchProject`.
        #[ink(message)]
        pub fn project(&self, id: u32) -> Result<ProjectView> {
            let p = self.projects.get(id).ok_or(MarketError::NoSuchProject)?;
            Ok(ProjectView {
                id,
                owner: *p.owner.as_ref(),
                params: p.params,
                pool: p.pool,
                phase: p.phase,
                round: p.round,
                created_at: p.created_at,
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ink::env::{test, DefaultEnvironment};

        fn accounts() -> test::DefaultAccounts<DefaultEnvironment> {
            test::default_accounts::<DefaultEnvironment>()
        }

        fn params() -> ProjectParams {
            ProjectParams {
                spec_cid: b"bafkreihdwdcefgh4dqkjv67uzcmw7oje".to_vec(),
                rounds: 3,
                min_trainers: 2,
                max_trainers: 4,
                trainer_stake: 50,
                aggregator: *accounts().charlie.as_ref(),
            }
        }

        fn create_as(caller: AccountId, value: Balance, c: &mut Marketplace) -> Result<u32> {
            test::set_caller::<DefaultEnvironment>(caller);
            test::set_value_transferred::<DefaultEnvironment>(value);
            c.create_project(params())
        }

        #[ink::test]
        fn create_escrows_the_pool_and_reads_back() {
            let mut c = Marketplace::new();
            let alice = accounts().alice;
            assert_eq!(c.project_count(), 0);
            assert_eq!(create_as(alice, 1_000, &mut c), Ok(0));
            assert_eq!(create_as(alice, 7, &mut c), Ok(1));
            assert_eq!(c.project_count(), 2);
            let v = c.project(0).expect("project 0 exists");
            let alice_bytes: &[u8; 32] = alice.as_ref();
            assert_eq!(&v.owner, alice_bytes);
            assert_eq!(v.pool, 1_000);
            assert_eq!(v.phase, Phase::Open);
            assert_eq!(v.params, params());
            assert_eq!(c.project(1).map(|p| p.pool), Ok(7));
            assert_eq!(test::recorded_events().count(), 2);
        }

        #[ink::test]
        fn empty_pool_is_refused_and_changes_nothing() {
            let mut c = Marketplace::new();
            assert_eq!(
                create_as(accounts().bob, 0, &mut c),
                Err(MarketError::EmptyPool)
            );
            assert_eq!(c.project_count(), 0);
            assert_eq!(c.project(0), Err(MarketError::NoSuchProject));
            assert_eq!(test::recorded_events().count(), 0);
        }

        #[ink::test]
        fn bad_params_are_refused_by_name() {
            let mut c = Marketplace::new();
            test::set_value_transferred::<DefaultEnvironment>(10);
            let mut p = params();
            p.rounds = 0;
            assert_eq!(c.create_project(p), Err(MarketError::BadRounds));
            let mut p = params();
            p.min_trainers = 9;
            assert_eq!(c.create_project(p), Err(MarketError::BadTrainerBounds));
            let mut p = params();
            p.spec_cid.clear();
            assert_eq!(c.create_project(p), Err(MarketError::BadSpecCid));
            assert_eq!(c.project_count(), 0);
        }
    }
}
