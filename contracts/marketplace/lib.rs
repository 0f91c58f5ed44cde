//! The Merit marketplace contract (ink! 5).
//!
//! One contract holds every project. A project escrows its reward pool at creation, takes
//! exact stakes from trainers and a bond from its aggregator, runs rounds of
//! commit → reveal → aggregate, checks the aggregator's Groth16 proof against a round
//! statement it rebuilds from its own storage, and ends in a settlement that everyone
//! collects with `claim` (pull payments only). The maths of the statement and of the
//! settlement live in `merit_protocol`, shared with the prover and the clients.
//!
//! Phases move by deadline (in blocks) or early, once everyone the phase waits for has
//! acted. Deadline moves are applied lazily: every message, and every getter, first works
//! out where the project stands at the current block (`Project::advance`), so nobody has
//! to pay for a "tick" and no project can be stuck: once the aggregation deadline passes,
//! anyone may `abort`.
//!
//! Every message validates everything before it writes anything, so a refusal changes
//! nothing even where the chain would not revert it (the off-chain test engine).
#![cfg_attr(not(feature = "std"), no_std, no_main)]

#[ink::contract]
mod marketplace {
    use ink::prelude::vec::Vec;
    use ink::storage::Mapping;
    use merit_protocol::abi::{
        MarketError, Phase, ProjectParams, ProjectView, RoundRecord, SlotView, TrainerView,
        MAX_CID_LEN, MAX_ROUND_SCORE,
    };
    use merit_protocol::commit::{self, Commitment, RoundInputs};
    // The events are defined once, in `merit_protocol::events`, and decoded by clients from
    // the same structs.
    use merit_protocol::events::{
        AggregatorBonded, Claimed, ProjectCreated, ProjectEnded, ProjectStarted, RevealSetAside,
        RoundFinalized, TrainerJoined, UpdateCommitted, UpdateRevealed,
    };
    use merit_protocol::reward::{self, Outcome, Settlement, TrainerAccount};
    use merit_protocol::verifier::{self, VerifierError};

    pub type Result<T> = core::result::Result<T, MarketError>;
    /// (project, round, slot).
    type EntryKey = (u32, u32, u32);

    /// A posted project as stored; `params` never changes after creation.
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    #[derive(Clone)]
    pub struct Project {
        owner: AccountId,
        params: ProjectParams,
        pool: Balance,
        phase: Phase,
        round: u32,
        created_at: BlockNumber,
        /// Last block of the current phase (join deadline while Open).
        phase_deadline: BlockNumber,
        trainers: u32,
        committed: u32,
        revealed: u32,
        aggregator_bonded: bool,
        model_cid: Vec<u8>,
        model_commitment: Commitment,
    }

    /// A joined trainer's running totals.
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    #[derive(Clone)]
    pub struct Trainer {
        account: AccountId,
        total_score: u32,
        rejected_rounds: u32,
        missed_reveal: bool,
    }

    /// A trainer's commitment in one round, and what it revealed.
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    #[derive(Clone)]
    pub struct Entry {
        commitment: Commitment,
        cid: Option<Vec<u8>>,
        /// The aggregator could not open the reveal; the round treats the slot as absent.
        set_aside: bool,
    }

    impl Entry {
        /// Takes part in the round statement: revealed and not set aside.
        fn present(&self) -> bool {
            self.cid.is_some() && !self.set_aside
        }
    }

    #[ink(storage)]
    pub struct Marketplace {
        /// Id the next project gets; ids are dense from 0.
        next_project: u32,
        projects: Mapping<u32, Project>,
        /// Verifying keys as `verifier::prepare` returns them.
        verifying_keys: Mapping<u32, Vec<u8>>,
        /// (project, slot) → trainer; slots are dense in join order.
        trainers: Mapping<(u32, u32), Trainer>,
        /// (project, account) → slot.
        slot_of: Mapping<(u32, AccountId), u32>,
        /// (project, round, slot) → commitment and reveal.
        entries: Mapping<EntryKey, Entry>,
        /// (project, slot, commitment) → committed in some round: update commitments are
        /// deterministic, so the same update twice is the same commitment.
        committed_before: Mapping<(u32, u32, Commitment), ()>,
        /// (project, round) → what finalisation recorded.
        records: Mapping<(u32, u32), RoundRecord>,
        /// (project, account) → what the account may claim, once the project has ended.
        claims: Mapping<(u32, AccountId), Balance>,
    }

    impl Project {
        /// Applies the deadline moves due by block `now` (pure: getters use it too).
        fn advance(&mut self, d: &merit_protocol::abi::Deadlines, now: BlockNumber) -> Result<()> {
            loop {
                match self.phase {
                    Phase::Commit if now > self.phase_deadline => {
                        self.phase = Phase::Reveal;
                        self.phase_deadline = add(self.phase_deadline, d.reveal)?;
                    }
                    // Nothing left to reveal (also when nobody committed) ends Reveal early.
                    Phase::Reveal
                        if now > self.phase_deadline || self.revealed == self.committed =>
                    {
                        self.phase = Phase::Aggregate;
                        self.phase_deadline = add(self.phase_deadline, d.aggregate)?;
                    }
                    _ => return Ok(()),
                }
            }
        }

        fn view(&self, id: u32) -> ProjectView {
            ProjectView {
                id,
                owner: *self.owner.as_ref(),
                params: self.params.clone(),
                pool: self.pool,
                phase: self.phase,
                round: self.round,
                created_at: self.created_at,
                phase_deadline: self.phase_deadline,
                trainers: self.trainers,
                committed: self.committed,
                revealed: self.revealed,
                aggregator_bonded: self.aggregator_bonded,
                model_cid: self.model_cid.clone(),
                model_commitment: self.model_commitment,
                // Filled by the `project` getter, which can read the key's storage.
                verifying_key: Vec::new(),
            }
        }

        fn aggregator(&self) -> AccountId {
            AccountId::from(self.params.aggregator)
        }
    }

    fn add(a: u32, b: u32) -> Result<u32> {
        a.checked_add(b).ok_or(MarketError::Overflow)
    }

    fn check_cid(cid: &[u8]) -> Result<()> {
        if cid.is_empty() || cid.len() > MAX_CID_LEN {
            return Err(MarketError::BadCid);
        }
        Ok(())
    }

    /// A commitment must be a canonical, non-zero field element: zero marks an absent slot.
    fn check_commitment(c: &Commitment) -> Result<()> {
        if *c == Commitment::default() || c.to_field().is_none() {
            return Err(MarketError::BadCommitment);
        }
        Ok(())
    }

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
                verifying_keys: Mapping::default(),
                trainers: Mapping::default(),
                slot_of: Mapping::default(),
                entries: Mapping::default(),
                committed_before: Mapping::default(),
                records: Mapping::default(),
                claims: Mapping::default(),
            }
        }

        // ---- messages -------------------------------------------------------------------

        /// Posts a project; the transferred value is its reward pool, held in escrow.
        /// `verifying_key` is the round circuit's Groth16 key (arkworks compressed bytes,
        /// one public input); it is validated and prepared here, once.
        #[ink(message, payable)]
        pub fn create_project(
            &mut self,
            params: ProjectParams,
            verifying_key: Vec<u8>,
        ) -> Result<u32> {
            let pool = self.env().transferred_value();
            params.validate_with_pool(pool)?;
            let prepared = verifier::prepare(&verifying_key).map_err(|e| match e {
                VerifierError::WrongInputCount { .. } => MarketError::WrongInputCount,
                _ => MarketError::BadVerifyingKey,
            })?;
            let id = self.next_project;
            let next = id.checked_add(1).ok_or(MarketError::Overflow)?;
            let now = self.env().block_number();
            let owner = self.env().caller();
            let project = Project {
                owner,
                pool,
                phase: Phase::Open,
                round: 0,
                created_at: now,
                phase_deadline: add(now, params.deadlines.join)?,
                trainers: 0,
                committed: 0,
                revealed: 0,
                aggregator_bonded: params.aggregator_bond == 0,
                model_cid: params.model_cid.clone(),
                model_commitment: params.model_commitment,
                params,
            };
            let aggregator = project.aggregator();
            self.projects.insert(id, &project);
            self.verifying_keys.insert(id, &prepared);
            self.next_project = next;
            self.env().emit_event(ProjectCreated {
                project: id,
                owner: *owner.as_ref(),
                aggregator: *aggregator.as_ref(),
                pool,
            });
            Ok(id)
        }

        /// The aggregator deposits exactly `aggregator_bond` (while the project is Open).
        #[ink(message, payable)]
        pub fn bond(&mut self, project: u32) -> Result<()> {
            let p = self.load(project)?;
            let caller = self.env().caller();
            if p.phase != Phase::Open {
                return Err(MarketError::WrongPhase);
            }
            if caller != p.aggregator() {
                return Err(MarketError::NotAggregator);
            }
            if p.aggregator_bonded {
                return Err(MarketError::AlreadyBonded);
            }
            let value = self.env().transferred_value();
            if value != p.params.aggregator_bond {
                return Err(MarketError::WrongValue);
            }
            self.projects.insert(
                project,
                &Project {
                    aggregator_bonded: true,
                    ..p
                },
            );
            self.env().emit_event(AggregatorBonded {
                project,
                aggregator: *caller.as_ref(),
                bond: value,
            });
            Ok(())
        }

        /// Takes the next trainer slot for exactly `trainer_stake`, until the join deadline.
        #[ink(message, payable)]
        pub fn join(&mut self, project: u32) -> Result<u32> {
            let mut p = self.load(project)?;
            let caller = self.env().caller();
            if p.phase != Phase::Open {
                return Err(MarketError::WrongPhase);
            }
            if self.env().block_number() > p.phase_deadline {
                return Err(MarketError::DeadlinePassed);
            }
            if self.slot_of.contains((project, caller)) {
                return Err(MarketError::AlreadyJoined);
            }
            if p.trainers >= p.params.max_trainers {
                return Err(MarketError::ProjectFull);
            }
            let stake = self.env().transferred_value();
            if stake != p.params.trainer_stake {
                return Err(MarketError::WrongValue);
            }
            let slot = p.trainers;
            p.trainers = add(slot, 1)?;
            self.trainers.insert(
                (project, slot),
                &Trainer {
                    account: caller,
                    total_score: 0,
                    rejected_rounds: 0,
                    missed_reveal: false,
                },
            );
            self.slot_of.insert((project, caller), &slot);
            self.projects.insert(project, &p);
            self.env().emit_event(TrainerJoined {
                project,
                trainer: *caller.as_ref(),
                slot,
                stake,
            });
            Ok(slot)
        }

        /// Opens round 0 once `min_trainers` have joined and the aggregator has bonded:
        /// the owner at any time, anyone after the join deadline.
        #[ink(message)]
        pub fn start(&mut self, project: u32) -> Result<()> {
            let mut p = self.load(project)?;
            if p.phase != Phase::Open {
                return Err(MarketError::WrongPhase);
            }
            if p.trainers < p.params.min_trainers || !p.aggregator_bonded {
                return Err(MarketError::NotReady);
            }
            let now = self.env().block_number();
            if self.env().caller() != p.owner && now <= p.phase_deadline {
                return Err(MarketError::TooEarly);
            }
            p.phase = Phase::Commit;
            p.phase_deadline = add(now, p.params.deadlines.commit)?;
            self.projects.insert(project, &p);
            self.env().emit_event(ProjectStarted {
                project,
                trainers: p.trainers,
                commit_deadline: p.phase_deadline,
            });
            Ok(())
        }

        /// Ends an Open project and returns every deposit: the owner at any time before
        /// `start`, anyone once the join deadline passed without the project being ready.
        #[ink(message)]
        pub fn cancel(&mut self, project: u32) -> Result<()> {
            let p = self.load(project)?;
            if p.phase != Phase::Open {
                return Err(MarketError::WrongPhase);
            }
            if self.env().caller() != p.owner {
                let ready = p.trainers >= p.params.min_trainers && p.aggregator_bonded;
                if self.env().block_number() <= p.phase_deadline {
                    return Err(MarketError::TooEarly);
                }
                if ready {
                    return Err(MarketError::NotOwner);
                }
            }
            self.end(project, p, Phase::Cancelled, false)
        }

        /// A joined trainer commits to its update for the current round (Commit phase).
        /// `commitment` is `merit_protocol::commit::commit_update(trainer, update)`.
        #[ink(message)]
        pub fn commit_update(
            &mut self,
            project: u32,
            round: u32,
            commitment: Commitment,
        ) -> Result<()> {
            let (mut p, now, caller, slot) = self.trainer_action(project, Phase::Commit, round)?;
            if self.entries.contains((project, round, slot)) {
                return Err(MarketError::AlreadyCommitted);
            }
            check_commitment(&commitment)?;
            // An update this trainer committed in an earlier round (a replay) would be paid
            // again for old work.
            if self.committed_before.contains((project, slot, commitment)) {
                return Err(MarketError::ReplayedUpdate);
            }
            p.committed = add(p.committed, 1)?;
            if p.committed == p.trainers {
                p.phase = Phase::Reveal;
                p.phase_deadline = add(now, p.params.deadlines.reveal)?;
            }
            self.entries.insert(
                (project, round, slot),
                &Entry {
                    commitment,
                    cid: None,
                    set_aside: false,
                },
            );
            self.committed_before.insert((project, slot, commitment), &());
            self.projects.insert(project, &p);
            self.env().emit_event(UpdateCommitted {
                project,
                trainer: *caller.as_ref(),
                round,
                commitment,
            });
            Ok(())
        }

        /// A trainer that committed this round publishes where its update is (Reveal phase).
        #[ink(message)]
        pub fn reveal_update(&mut self, project: u32, round: u32, cid: Vec<u8>) -> Result<()> {
            let (mut p, now, caller, slot) = self.trainer_action(project, Phase::Reveal, round)?;
            let mut entry = self
                .entries
                .get((project, round, slot))
                .ok_or(MarketError::NotCommitted)?;
            if entry.cid.is_some() {
                return Err(MarketError::AlreadyRevealed);
            }
            check_cid(&cid)?;
            p.revealed = add(p.revealed, 1)?;
            if p.revealed == p.committed {
                p.phase = Phase::Aggregate;
                p.phase_deadline = add(now, p.params.deadlines.aggregate)?;
            }
            entry.cid = Some(cid.clone());
            self.entries.insert((project, round, slot), &entry);
            self.projects.insert(project, &p);
            self.env().emit_event(UpdateRevealed {
                project,
                trainer: *caller.as_ref(),
                round,
                cid,
            });
            Ok(())
        }

        /// The aggregator declares that it cannot open `slot`'s reveal this round: the
        /// file is missing from IPFS or does not match the slot's commitment. The slot then
        /// counts as absent in the round statement (no score, not accepted) without any
        /// penalty, since the contract cannot check the claim; anyone can, off chain.
        /// Without this, one trainer revealing a bad CID would make the round unprovable
        /// and cost the aggregator its bond.
        #[ink(message)]
        pub fn set_aside(&mut self, project: u32, round: u32, slot: u32) -> Result<()> {
            let (p, _) = self.aggregator_action(project, round)?;
            let mut entry = self
                .entries
                .get((project, round, slot))
                .filter(|e| e.cid.is_some())
                .ok_or(MarketError::NotRevealed)?;
            if entry.set_aside {
                return Err(MarketError::AlreadySetAside);
            }
            let trainer = self
                .trainers
                .get((project, slot))
                .ok_or(MarketError::NotTrainer)?;
            entry.set_aside = true;
            self.entries.insert((project, round, slot), &entry);
            // Persist the phase the deadline moves reached, as every other message does.
            self.projects.insert(project, &p);
            self.env().emit_event(RevealSetAside {
                project,
                trainer: *trainer.account.as_ref(),
                round,
                slot,
            });
            Ok(())
        }

        /// The aggregator closes the round with a proof of the round statement. The
        /// contract rebuilds the public input from its own state (project, round, current
        /// model, every slot's trainer and revealed commitment) plus the claimed scores,
        /// accept bits and new model, and verifies the proof itself.
        #[ink(message)]
        #[allow(clippy::too_many_arguments)]
        pub fn finalize_round(
            &mut self,
            project: u32,
            round: u32,
            model_cid: Vec<u8>,
            model_commitment: Commitment,
            scores: Vec<u32>,
            accepted: Vec<bool>,
            proof: Vec<u8>,
        ) -> Result<()> {
            let (mut p, now) = self.aggregator_action(project, round)?;
            let n = p.params.max_trainers as usize;
            if scores.len() != n || accepted.len() != n {
                return Err(MarketError::BadLengths);
            }
            check_cid(&model_cid)?;
            check_commitment(&model_commitment)?;

            // The statement's slots, from storage: unfilled slots have the zero account,
            // slots without a reveal (or with one set aside) the zero commitment.
            let mut accounts = Vec::with_capacity(n);
            let mut updates = Vec::with_capacity(n);
            let mut trainers = Vec::with_capacity(n);
            for slot in 0..p.params.max_trainers {
                let i = slot as usize;
                let trainer = self.trainers.get((project, slot));
                let entry = self.entries.get((project, round, slot));
                let revealed = entry.as_ref().is_some_and(|e| e.cid.is_some());
                let present = entry.as_ref().is_some_and(Entry::present);
                let score = scores.get(i).copied().unwrap_or_default();
                let accept = accepted.get(i).copied().unwrap_or_default();
                if score > MAX_ROUND_SCORE || (!present && (accept || score != 0)) {
                    return Err(MarketError::BadScore);
                }
                accounts.push(trainer.as_ref().map_or([0u8; 32], |t| *t.account.as_ref()));
                updates.push(match &entry {
                    Some(e) if present => e.commitment,
                    _ => Commitment::default(),
                });
                if let Some(t) = trainer {
                    trainers.push((slot, t, entry.is_some(), revealed, present));
                }
            }
            let input = commit::round_public_input(&RoundInputs {
                    project,
                    round,
                    prev_model: p.model_commitment,
                    trainers: &accounts,
                    updates: &updates,
                    scores: &scores,
                    accepted: &accepted,
                    new_model: model_commitment,
                })
                .map_err(|_| MarketError::BadLengths)?;
            let vk = self
                .verifying_keys
                .get(project)
                .ok_or(MarketError::NoSuchProject)?;
            match verifier::verify(&vk, &proof, &input) {
                Ok(true) => {}
                Ok(false) => return Err(MarketError::BadProof),
                Err(_) => return Err(MarketError::MalformedProof),
            }

            // Checked: apply the round to every trainer.
            let mut updated = Vec::with_capacity(trainers.len());
            for (slot, mut t, committed, revealed, present) in trainers {
                let i = slot as usize;
                let score = scores.get(i).copied().unwrap_or_default();
                t.total_score = t
                    .total_score
                    .checked_add(score)
                    .ok_or(MarketError::Overflow)?;
                // Only a proven rejection counts; a set-aside reveal was never judged.
                if present && !accepted.get(i).copied().unwrap_or_default() {
                    t.rejected_rounds = add(t.rejected_rounds, 1)?;
                }
                if committed && !revealed {
                    t.missed_reveal = true;
                }
                updated.push((slot, t));
            }
            let record = RoundRecord {
                model_cid: model_cid.clone(),
                model_commitment,
                scores: scores.clone(),
                accepted: accepted.clone(),
                public_input: merit_protocol::poseidon::to_bytes(&input),
                finalized_at: now,
            };
            p.round = add(round, 1)?;
            p.model_cid = model_cid.clone();
            p.model_commitment = model_commitment;
            p.committed = 0;
            p.revealed = 0;
            let finished = p.round == p.params.rounds;
            if !finished {
                p.phase = Phase::Commit;
                p.phase_deadline = add(now, p.params.deadlines.commit)?;
            }
            for (slot, t) in &updated {
                self.trainers.insert((project, *slot), t);
            }
            self.records.insert((project, round), &record);
            self.env().emit_event(RoundFinalized {
                project,
                round,
                model_cid,
                model_commitment,
                scores,
                accepted,
            });
            if finished {
                return self.end(project, p, Phase::Finished, false);
            }
            self.projects.insert(project, &p);
            Ok(())
        }

        /// Anyone may abort a project whose aggregator let the aggregation deadline pass.
        /// Proven rounds are still paid; the aggregator's bond goes to the owner.
        #[ink(message)]
        pub fn abort(&mut self, project: u32) -> Result<()> {
            let (p, now) = self.load_now(project)?;
            if p.phase != Phase::Aggregate {
                return Err(MarketError::WrongPhase);
            }
            if now <= p.phase_deadline {
                return Err(MarketError::TooEarly);
            }
            // The reveal phase of this round is over: a commitment without a reveal forfeits.
            let mut missed = Vec::new();
            for slot in 0..p.trainers {
                if let Some(e) = self.entries.get((project, p.round, slot)) {
                    if e.cid.is_none() {
                        let mut t = self
                            .trainers
                            .get((project, slot))
                            .ok_or(MarketError::NotTrainer)?;
                        t.missed_reveal = true;
                        missed.push((slot, t));
                    }
                }
            }
            for (slot, t) in &missed {
                self.trainers.insert((project, *slot), t);
            }
            self.end(project, p, Phase::Aborted, true)
        }

        /// Pays the caller everything it is owed by an ended project (every role at once).
        #[ink(message)]
        pub fn claim(&mut self, project: u32) -> Result<Balance> {
            let p = self.load(project)?;
            if !p.phase.is_terminal() {
                return Err(MarketError::WrongPhase);
            }
            let caller = self.env().caller();
            let amount = self.claims.get((project, caller)).unwrap_or_default();
            if amount == 0 {
                return Err(MarketError::NothingToClaim);
            }
            // Effects before the interaction; an Err reverts the removal on chain.
            self.claims.remove((project, caller));
            self.env()
                .transfer(caller, amount)
                .map_err(|_| MarketError::TransferFailed)?;
            self.env().emit_event(Claimed {
                project,
                account: *caller.as_ref(),
                amount,
            });
            Ok(amount)
        }

        // ---- getters --------------------------------------------------------------------

        /// How many projects were ever posted (ids are `0..project_count`).
        #[ink(message)]
        pub fn project_count(&self) -> u32 {
            self.next_project
        }

        /// One project as of the current block, or `NoSuchProject`.
        #[ink(message)]
        pub fn project(&self, id: u32) -> Result<ProjectView> {
            let mut view = self.load_now(id)?.0.view(id);
            view.verifying_key = self.verifying_keys.get(id).unwrap_or_default();
            Ok(view)
        }

        /// The trainers in slot order (the order of the round statement).
        #[ink(message)]
        pub fn trainers(&self, project: u32) -> Result<Vec<TrainerView>> {
            let p = self.load(project)?;
            Ok((0..p.trainers)
                .filter_map(|slot| {
                    self.trainers.get((project, slot)).map(|t| TrainerView {
                        slot,
                        account: *t.account.as_ref(),
                        total_score: t.total_score,
                        rejected_rounds: t.rejected_rounds,
                        missed_reveal: t.missed_reveal,
                    })
                })
                .collect())
        }

        /// Every joined slot of a round: its commitment and revealed CID, if any.
        #[ink(message)]
        pub fn round_slots(&self, project: u32, round: u32) -> Result<Vec<SlotView>> {
            let p = self.load(project)?;
            if round > p.round {
                return Err(MarketError::WrongRound);
            }
            Ok((0..p.trainers)
                .filter_map(|slot| {
                    let t = self.trainers.get((project, slot))?;
                    let e = self.entries.get((project, round, slot));
                    Some(SlotView {
                        slot,
                        account: *t.account.as_ref(),
                        commitment: e.as_ref().map(|e| e.commitment),
                        set_aside: e.as_ref().is_some_and(|e| e.set_aside),
                        cid: e.and_then(|e| e.cid),
                    })
                })
                .collect())
        }

        /// What finalisation recorded for a round (None while it is open).
        #[ink(message)]
        pub fn round_record(&self, project: u32, round: u32) -> Result<Option<RoundRecord>> {
            self.load(project)?;
            Ok(self.records.get((project, round)))
        }

        /// What `account` can claim from an ended project (0 before it ends).
        #[ink(message)]
        pub fn claimable(&self, project: u32, account: AccountId) -> Result<Balance> {
            self.load(project)?;
            Ok(self.claims.get((project, account)).unwrap_or_default())
        }

        // ---- internals ------------------------------------------------------------------

        fn load(&self, id: u32) -> Result<Project> {
            self.projects.get(id).ok_or(MarketError::NoSuchProject)
        }

        /// The project with the deadline moves due at the current block applied.
        fn load_now(&self, id: u32) -> Result<(Project, BlockNumber)> {
            let mut p = self.load(id)?;
            let now = self.env().block_number();
            let deadlines = p.params.deadlines;
            p.advance(&deadlines, now)?;
            Ok((p, now))
        }

        /// The common checks of a trainer's commit or reveal: the project is in `phase` of
        /// `round`, and the caller holds a slot. Returns the advanced project, the block,
        /// the caller and its slot.
        fn trainer_action(
            &self,
            project: u32,
            phase: Phase,
            round: u32,
        ) -> Result<(Project, BlockNumber, AccountId, u32)> {
            let (p, now) = self.load_now(project)?;
            if p.phase != phase {
                return Err(MarketError::WrongPhase);
            }
            if round != p.round {
                return Err(MarketError::WrongRound);
            }
            let caller = self.env().caller();
            let slot = self
                .slot_of
                .get((project, caller))
                .ok_or(MarketError::NotTrainer)?;
            Ok((p, now, caller, slot))
        }

        /// The common checks of the aggregator's `set_aside` and `finalize_round`: the
        /// caller is the aggregator, and the project is aggregating `round`, before the
        /// deadline. Returns the advanced project and the block.
        fn aggregator_action(&self, project: u32, round: u32) -> Result<(Project, BlockNumber)> {
            let (p, now) = self.load_now(project)?;
            if p.phase != Phase::Aggregate {
                return Err(MarketError::WrongPhase);
            }
            if now > p.phase_deadline {
                return Err(MarketError::DeadlinePassed);
            }
            if self.env().caller() != p.aggregator() {
                return Err(MarketError::NotAggregator);
            }
            if round != p.round {
                return Err(MarketError::WrongRound);
            }
            Ok((p, now))
        }

        /// Moves a project to a terminal phase and credits every claim (DESIGN.md, "Money
        /// rules", computed by `merit_protocol::reward::settle`).
        fn end(
            &mut self,
            project: u32,
            mut p: Project,
            phase: Phase,
            aggregator_at_fault: bool,
        ) -> Result<()> {
            let mut accounts = Vec::with_capacity(p.trainers as usize);
            let mut trainers = Vec::with_capacity(p.trainers as usize);
            for slot in 0..p.trainers {
                let t = self
                    .trainers
                    .get((project, slot))
                    .ok_or(MarketError::NotTrainer)?;
                trainers.push(TrainerAccount {
                    stake: p.params.trainer_stake,
                    total_score: t.total_score,
                    forfeited: reward::stake_forfeited(
                        t.missed_reveal,
                        t.rejected_rounds,
                        p.params.max_rejected_rounds,
                    ),
                });
                accounts.push(t.account);
            }
            let outcome = match phase {
                Phase::Finished => Outcome::Finished,
                Phase::Cancelled => Outcome::Cancelled,
                _ => Outcome::Aborted {
                    rounds_done: p.round,
                    rounds_total: p.params.rounds,
                    aggregator_at_fault,
                },
            };
            let claims = reward::settle(&Settlement {
                pool: p.pool,
                aggregator_fee: p.params.aggregator_fee,
                aggregator_bond: if p.aggregator_bonded {
                    p.params.aggregator_bond
                } else {
                    0
                },
                trainers,
                outcome,
            })
            .map_err(|_| MarketError::Overflow)?;

            // One account may hold several roles; its claims add up.
            let mut credits: Vec<(AccountId, Balance)> =
                Vec::with_capacity(accounts.len().saturating_add(2));
            credits.push((p.owner, claims.owner));
            credits.push((p.aggregator(), claims.aggregator));
            credits.extend(accounts.into_iter().zip(claims.trainers));
            let mut totals: Vec<(AccountId, Balance)> = Vec::with_capacity(credits.len());
            for (who, amount) in credits {
                match totals.iter_mut().find(|(a, _)| *a == who) {
                    Some((_, sum)) => {
                        *sum = sum.checked_add(amount).ok_or(MarketError::Overflow)?
                    }
                    None => totals.push((who, amount)),
                }
            }
            p.phase = phase;
            let rounds_done = p.round;
            for (who, amount) in totals {
                if amount > 0 {
                    self.claims.insert((project, who), &amount);
                }
            }
            self.projects.insert(project, &p);
            self.env().emit_event(ProjectEnded {
                project,
                phase,
                rounds_done,
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
