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
        ChunkedParams, MarketError, PendingRound, Phase, ProjectParams, ProjectView, RoundDraw,
        RoundRecord, SetupContribution, SetupRecord, ShapeSetup, ShapeView, SlotView, TrainerView,
        MAX_CID_LEN, MAX_ROUND_SCORE, MAX_SLOTS, TRAINERS_PER_PAGE,
    };
    use merit_protocol::answer::{self, AnswerError, Layout, Opening};
    use merit_protocol::chunked::{self, Chunking, Stored, Submission, MAX_CHUNK};
    use merit_protocol::commit::{self, Commitment, RoundInputs};
    // The events are defined once, in `merit_protocol::events`, and decoded by clients from
    // the same structs.
    use merit_protocol::draw;
    use merit_protocol::events::{
        AggregatorBonded, ChunkProofsVerified, ChunkedRoundSubmitted, Claimed, ProjectCreated,
        ProjectEnded, ProjectStarted, RevealSetAside, RoundDrawn, RoundFinalized, SetAsideAnswered,
        SetupContributed, SetupRecorded, ShapeRegistered, ShapeSetupRecorded, TrainerJoined,
        UpdateCommitted, UpdateRevealed,
    };
    use merit_protocol::poseidon;
    use merit_protocol::reward::{self, Outcome, Totals};
    use merit_protocol::setup_link;
    use merit_protocol::verifier::{self, BatchItem, VerifierError};

    pub type Result<T> = core::result::Result<T, MarketError>;
    /// (project, round, slot): a slot of a round statement. Trainers are indexed in join
    /// order instead (`trainers`); a round's draw maps its slots to them.
    type EntryKey = (u32, u32, u32);

    /// A posted project as stored; `params` never changes after creation, except
    /// `proving_key_cid`, which a setup contribution moves along with the key.
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
        /// Trainers joined (indexed 0..trainers in join order); no message loops over them.
        trainers: u32,
        /// Trainers the current round drew: min(trainers, slots) once started.
        drawn: u32,
        committed: u32,
        revealed: u32,
        aggregator_bonded: bool,
        model_cid: Vec<u8>,
        model_commitment: Commitment,
        /// The current round's seed (`draw::round_seed`), chained from round to round.
        seed: [u8; 32],
        /// Running totals that settle the project without a loop over its trainers
        /// (`reward::Totals`): Σ total scores, the forfeited stakes, how many trainers
        /// have a score.
        score_total: u64,
        forfeits: Balance,
        scored: u32,
        /// Once the project ended: what trainers' claims took of the score split so far,
        /// and how many scored trainers claimed; the split's rounding remainder goes to the
        /// owner once the last of them has.
        paid_by_score: Balance,
        scored_claimed: u32,
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
        /// Proven rounds that drew it.
        rounds_drawn: u32,
        /// Its claim on the ended project was paid.
        claimed: bool,
    }

    impl Trainer {
        fn forfeited(&self, max_rejected_rounds: u32) -> bool {
            reward::stake_forfeited(
                self.missed_reveal,
                self.rejected_rounds,
                max_rejected_rounds,
            )
        }
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
        /// Last block in which a set-aside can be answered (0 while not set aside); the
        /// round cannot close before it.
        answer_until: BlockNumber,
        /// The set-aside was answered: the update opened the commitment on chain, so the
        /// slot is back in the round.
        answered: bool,
    }

    /// A registered proof shape: the verifying keys of the chunk circuit for (N, C) and of
    /// the decision circuit for N, prepared once, shared by every project that names it.
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    #[derive(Clone)]
    pub struct Shape {
        slots: u32,
        chunk: u32,
        keys_cid: Vec<u8>,
        registered_by: AccountId,
        chunk_key: Vec<u8>,
        decision_key: Vec<u8>,
    }

    /// A drawn slot's trainer as a round closes: (slot, trainer index, trainer, committed,
    /// revealed, present).
    type DrawnTrainer = (u32, u32, Trainer, bool, bool, bool);

    /// The slots of a round statement as storage holds them (see `statement_slots`).
    struct StatementSlots {
        /// Per slot: the drawn trainer's account, or the zero account for an unfilled slot.
        accounts: Vec<[u8; 32]>,
        /// Per slot: the committed update of a present slot.
        updates: Vec<Option<Commitment>>,
        /// The drawn trainers.
        trainers: Vec<DrawnTrainer>,
    }

    /// What a proven round records and applies, however it was proven.
    struct ProvenRound {
        round: u32,
        model_cid: Vec<u8>,
        model_commitment: Commitment,
        scores: Vec<u32>,
        accepted: Vec<bool>,
        /// The public input the round was checked against (`P_dec` for a chunked round).
        public_input: [u8; 32],
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
        /// (project, index) → trainer; indices are dense in join order.
        trainers: Mapping<(u32, u32), Trainer>,
        /// (project, account) → the trainer's index.
        slot_of: Mapping<(u32, AccountId), u32>,
        /// (project, round) → the trainers the round drew, slot by slot.
        draws: Mapping<(u32, u32), RoundDraw>,
        /// (project, round, slot) → commitment and reveal.
        entries: Mapping<EntryKey, Entry>,
        /// (project, trainer index, commitment) → committed in some round: update
        /// commitments are deterministic, so the same update twice is the same commitment.
        committed_before: Mapping<(u32, u32, Commitment), ()>,
        /// (project, round) → what finalisation recorded.
        records: Mapping<(u32, u32), RoundRecord>,
        /// (project, account) → what the account may claim, once the project has ended.
        claims: Mapping<(u32, AccountId), Balance>,
        /// Id the next shape gets; ids are dense from 0.
        next_shape: u32,
        shapes: Mapping<u32, Shape>,
        /// project → its chunked statement (absent for a v3 project).
        chunked: Mapping<u32, ChunkedParams>,
        /// project → its current round's chunked submission, until it is finalised.
        pending: Mapping<u32, PendingRound>,
        /// (project, round, slot) → a set-aside's answer in progress, between its pieces.
        answers: Mapping<EntryKey, Opening>,
        /// (project, round, slot, piece) → the values an answer posted: once answered, the
        /// slot's update as the aggregator (and anyone re-checking the round) reads it.
        answer_pieces: Mapping<(u32, u32, u32, u32), Vec<i16>>,
        /// project → the ceremony transcript its keys come from, as its owner recorded it.
        setups: Mapping<u32, SetupRecord>,
        /// shape → the ceremony transcripts of its two keys, as its registrant recorded them.
        shape_setups: Mapping<u32, ShapeSetup>,
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
                drawn: self.drawn,
                committed: self.committed,
                revealed: self.revealed,
                aggregator_bonded: self.aggregator_bonded,
                model_cid: self.model_cid.clone(),
                model_commitment: self.model_commitment,
                // Filled by the `project` getter, which can read the key's storage.
                verifying_key: Vec::new(),
                chunked: None,
            }
        }

        fn aggregator(&self) -> AccountId {
            AccountId::from(self.params.aggregator)
        }
    }

    /// A recorded `[δ]G1` must carry the δ of `prepared` (a key from `verifier::prepare`).
    fn ensure_delta_matches(prepared: &[u8], delta_g1: &[u8; 32]) -> Result<()> {
        let g1 = setup_link::decode_delta_g1(delta_g1).map_err(|_| MarketError::BadSetupDelta)?;
        let g2 = setup_link::prepared_delta_g2(prepared).ok_or(MarketError::BadVerifyingKey)?;
        if !setup_link::same_delta(&g1, &g2) {
            return Err(MarketError::BadSetupDelta);
        }
        Ok(())
    }

    /// SHA-256 by the chain's host function (the setup links' hash).
    fn sha256(bytes: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        ink::env::hash_bytes::<ink::env::hash::Sha2x256>(bytes, &mut out);
        out
    }

    fn add(a: u32, b: u32) -> Result<u32> {
        a.checked_add(b).ok_or(MarketError::Overflow)
    }

    fn to_u32(n: usize) -> Result<u32> {
        u32::try_from(n).map_err(|_| MarketError::Overflow)
    }

    fn check_cid(cid: &[u8]) -> Result<()> {
        if cid.is_empty() || cid.len() > MAX_CID_LEN {
            return Err(MarketError::BadCid);
        }
        Ok(())
    }

    /// Validates and prepares a Groth16 verifying key (arkworks compressed, one input).
    fn prepare_key(compressed: &[u8]) -> Result<Vec<u8>> {
        verifier::prepare(compressed).map_err(|e| match e {
            VerifierError::WrongInputCount { .. } => MarketError::WrongInputCount,
            _ => MarketError::BadVerifyingKey,
        })
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
                draws: Mapping::default(),
                entries: Mapping::default(),
                committed_before: Mapping::default(),
                records: Mapping::default(),
                claims: Mapping::default(),
                next_shape: 0,
                shapes: Mapping::default(),
                chunked: Mapping::default(),
                pending: Mapping::default(),
                answers: Mapping::default(),
                answer_pieces: Mapping::default(),
                setups: Mapping::default(),
                shape_setups: Mapping::default(),
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
            let prepared = prepare_key(&verifying_key)?;
            let id = self.open_project(params, pool)?;
            self.verifying_keys.insert(id, &prepared);
            Ok(id)
        }

        /// Registers a proof shape for chunked rounds: `slots` (N) and `chunk` (C), the chunk
        /// circuit's and the decision circuit's verifying keys (arkworks compressed, one
        /// public input each; validated and prepared here, once) and the CID of the key file
        /// that holds their proving keys. Anyone may register; projects name a shape by id.
        #[ink(message)]
        pub fn register_shape(
            &mut self,
            slots: u32,
            chunk: u32,
            chunk_key: Vec<u8>,
            decision_key: Vec<u8>,
            keys_cid: Vec<u8>,
        ) -> Result<u32> {
            if slots == 0 || slots > MAX_SLOTS || chunk == 0 || chunk as usize > MAX_CHUNK {
                return Err(MarketError::BadShape);
            }
            check_cid(&keys_cid)?;
            let chunk_key = prepare_key(&chunk_key)?;
            let decision_key = prepare_key(&decision_key)?;
            let id = self.next_shape;
            self.next_shape = add(id, 1)?;
            let registered_by = self.env().caller();
            self.shapes.insert(
                id,
                &Shape {
                    slots,
                    chunk,
                    keys_cid: keys_cid.clone(),
                    registered_by,
                    chunk_key,
                    decision_key,
                },
            );
            self.env().emit_event(ShapeRegistered {
                shape: id,
                registered_by: *registered_by.as_ref(),
                slots,
                chunk,
                keys_cid,
            });
            Ok(id)
        }

        /// The account that registered a proof shape records, once, the ceremony transcripts
        /// its chunk and decision keys come from. Like `record_setup`, only recorded: each
        /// `[δ]G1` is checked against the key it belongs to; the transcripts are checked by
        /// the trainers of every project of the shape before they stake.
        #[ink(message)]
        pub fn record_shape_setup(&mut self, shape: u32, setup: ShapeSetup) -> Result<()> {
            let s = self.shapes.get(shape).ok_or(MarketError::NoSuchShape)?;
            if self.env().caller() != s.registered_by {
                return Err(MarketError::NotShapeRegistrant);
            }
            if self.shape_setups.contains(shape) {
                return Err(MarketError::SetupNotRecordable);
            }
            for (record, key) in [
                (&setup.chunk, &s.chunk_key),
                (&setup.decision, &s.decision_key),
            ] {
                check_cid(&record.transcript_cid)?;
                ensure_delta_matches(key, &record.delta_g1)?;
            }
            self.shape_setups.insert(shape, &setup);
            self.env().emit_event(ShapeSetupRecorded {
                shape,
                chunk_transcript_cid: setup.chunk.transcript_cid,
                decision_transcript_cid: setup.decision.transcript_cid,
            });
            Ok(())
        }

        /// Posts a project whose rounds are proven in chunks with a registered shape's keys
        /// (no setup of its own). `params.proving_key_cid` must be the shape's key file;
        /// `chunked` holds the rule's parameters, which the contract hashes into each
        /// round's decision statement.
        #[ink(message, payable)]
        pub fn create_chunked_project(
            &mut self,
            params: ProjectParams,
            chunked: ChunkedParams,
        ) -> Result<u32> {
            let pool = self.env().transferred_value();
            params.validate_with_pool(pool)?;
            let shape = self
                .shapes
                .get(chunked.shape)
                .ok_or(MarketError::NoSuchShape)?;
            if shape.slots != params.slots || shape.chunk != chunked.chunk {
                return Err(MarketError::BadShape);
            }
            Chunking::new(chunked.dim as usize, shape.chunk as usize)?;
            chunked
                .rule(params.slots)
                .check()
                .map_err(|_| MarketError::BadRuleParams)?;
            if params.proving_key_cid != shape.keys_cid {
                return Err(MarketError::BadProvingKeyCid);
            }
            let id = self.open_project(params, pool)?;
            self.chunked.insert(id, &chunked);
            Ok(id)
        }

        /// The bookkeeping every kind of project shares on creation, after validation.
        fn open_project(&mut self, params: ProjectParams, pool: Balance) -> Result<u32> {
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
                drawn: 0,
                committed: 0,
                revealed: 0,
                aggregator_bonded: params.aggregator_bond == 0,
                model_cid: params.model_cid.clone(),
                model_commitment: params.model_commitment,
                params,
                seed: [0; 32],
                score_total: 0,
                forfeits: 0,
                scored: 0,
                paid_by_score: 0,
                scored_claimed: 0,
            };
            let aggregator = project.aggregator();
            self.projects.insert(id, &project);
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

        /// Joins for exactly `trainer_stake`, until the join deadline; returns the trainer's
        /// index in join order. Any number may join: each round draws `slots` of them.
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
            if caller == p.owner || caller == AccountId::from(p.params.aggregator) {
                return Err(MarketError::ConflictOfInterest);
            }
            if self.slot_of.contains((project, caller)) {
                return Err(MarketError::AlreadyJoined);
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
                    rounds_drawn: 0,
                    claimed: false,
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

        /// The owner records the ceremony transcript its round keys come from (its CID, its
        /// hash-chain head and how many contributed to each phase), once, while the project
        /// is Open and before anyone joins: every trainer can then check the keys against
        /// it before staking. The contract only records it: a transcript is far too large
        /// to check on chain.
        #[ink(message)]
        pub fn record_setup(&mut self, project: u32, setup: SetupRecord) -> Result<()> {
            let p = self.load(project)?;
            if self.env().caller() != p.owner {
                return Err(MarketError::NotOwner);
            }
            if p.phase != Phase::Open || p.trainers > 0 || self.setups.contains(project) {
                return Err(MarketError::SetupNotRecordable);
            }
            check_cid(&setup.transcript_cid)?;
            self.ensure_delta_matches_key(project, &setup.delta_g1)?;
            self.setups.insert(project, &setup);
            self.env().emit_event(SetupRecorded {
                project,
                transcript_cid: setup.transcript_cid,
                head: setup.head,
                phase1_contributions: setup.phase1_contributions,
                phase2_contributions: setup.phase2_contributions,
            });
            Ok(())
        }

        /// Adds a phase-2 contribution to the project's recorded setup while it is Open: its
        /// owner, its aggregator or a joined trainer multiplies δ by a secret of its own, so
        /// whoever ran the earlier phase-2 steps no longer knows it. The contract checks the
        /// link (built on the recorded head; a proof of knowledge of the ratio over the
        /// recorded `[δ]G1`; the same δ in G1 and G2), then moves `δ_g2` in the stored
        /// verifying key, the head, the transcript CID and the proving key CID. The L and H
        /// queries in the transcript are too large to check here: a trainer checks those
        /// off chain (`merit ceremony verify --project`).
        #[ink(message)]
        pub fn contribute_setup(
            &mut self,
            project: u32,
            contribution: SetupContribution,
        ) -> Result<()> {
            let mut p = self.load(project)?;
            let caller = self.env().caller();
            if p.phase != Phase::Open {
                return Err(MarketError::WrongPhase);
            }
            let party = caller == p.owner
                || caller == p.aggregator()
                || self.slot_of.contains((project, caller));
            if !party {
                return Err(MarketError::NotSetupParty);
            }
            let mut setup = self
                .setups
                .get(project)
                .ok_or(MarketError::NoSetupRecorded)?;
            check_cid(&contribution.transcript_cid)?;
            if contribution.proving_key_cid.is_empty()
                || contribution.proving_key_cid.len() > MAX_CID_LEN
            {
                return Err(MarketError::BadProvingKeyCid);
            }
            let link = setup_link::Link::decode(&contribution.link)
                .map_err(|_| MarketError::BadSetupLink)?;
            let prev = setup_link::decode_delta_g1(&setup.delta_g1)
                .map_err(|_| MarketError::BadSetupDelta)?;
            link.check(&prev, &setup.head, sha256)
                .map_err(|e| match e {
                    setup_link::LinkError::Parent => MarketError::StaleSetupLink,
                    _ => MarketError::BadSetupLink,
                })?;
            let key = self.verifying_keys.get(project).unwrap_or_default();
            let moved = setup_link::with_delta_g2(&key, link.delta_g2)
                .ok_or(MarketError::BadVerifyingKey)?;
            setup.head = link.head(sha256);
            setup.delta_g1 = setup_link::encode_delta_g1(&link.delta_g1);
            setup.phase2_contributions = add(setup.phase2_contributions, 1)?;
            setup.transcript_cid = contribution.transcript_cid;
            p.params.proving_key_cid = contribution.proving_key_cid;
            self.verifying_keys.insert(project, &moved);
            self.projects.insert(project, &p);
            self.setups.insert(project, &setup);
            self.env().emit_event(SetupContributed {
                project,
                contributor: *caller.as_ref(),
                head: setup.head,
                phase2_contributions: setup.phase2_contributions,
                transcript_cid: setup.transcript_cid,
            });
            Ok(())
        }

        /// Opens round 0 once `min_trainers` have joined and the aggregator has bonded:
        /// the owner at any time, anyone after the join deadline.
        #[ink(message)]
        pub fn start(&mut self, project: u32) -> Result<()> {
            let mut p = self.load(project)?;
            if p.phase != Phase::Open {
                return Err(MarketError::WrongPhase);
            }
            // Before the join deadline the project is its owner's to start.
            let now = self.env().block_number();
            if self.env().caller() != p.owner && now <= p.phase_deadline {
                return Err(MarketError::NotOwner);
            }
            if p.trainers < p.params.min_trainers || !p.aggregator_bonded {
                return Err(MarketError::NotReady);
            }
            p.phase = Phase::Commit;
            p.phase_deadline = add(now, p.params.deadlines.commit)?;
            // Round 0's entropy is the initial model commitment: no block number, so the
            // draw (and its gas) is the same in whatever block the call lands (SPEC §13).
            let entropy = p.model_commitment.0;
            self.draw_round(project, &mut p, &entropy)?;
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
            // A stranger may cancel only what its owner left stuck: past the join deadline
            // and not ready; everything else is the owner's to cancel.
            if self.env().caller() != p.owner {
                let ready = p.trainers >= p.params.min_trainers && p.aggregator_bonded;
                if self.env().block_number() <= p.phase_deadline || ready {
                    return Err(MarketError::NotOwner);
                }
            }
            self.end(project, p, Phase::Cancelled, &[])
        }

        /// A trainer the round drew commits to its update (Commit phase). `commitment` is
        /// `merit_protocol::commit::commit_update(trainer, update)`.
        #[ink(message)]
        pub fn commit_update(
            &mut self,
            project: u32,
            round: u32,
            commitment: Commitment,
        ) -> Result<()> {
            let (mut p, now, caller, (index, slot)) =
                self.trainer_action(project, Phase::Commit, round)?;
            if self.entries.contains((project, round, slot)) {
                return Err(MarketError::AlreadyCommitted);
            }
            check_commitment(&commitment)?;
            // An update this trainer committed in an earlier round (a replay) would be paid
            // again for old work.
            if self.committed_before.contains((project, index, commitment)) {
                return Err(MarketError::ReplayedUpdate);
            }
            p.committed = add(p.committed, 1)?;
            if p.committed == p.drawn {
                p.phase = Phase::Reveal;
                p.phase_deadline = add(now, p.params.deadlines.reveal)?;
            }
            self.entries.insert(
                (project, round, slot),
                &Entry {
                    commitment,
                    cid: None,
                    set_aside: false,
                    answer_until: 0,
                    answered: false,
                },
            );
            self.committed_before
                .insert((project, index, commitment), &());
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
            let (mut p, now, caller, (_, slot)) =
                self.trainer_action(project, Phase::Reveal, round)?;
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
        /// counts as absent in the round statement (no score, not accepted). Without this,
        /// one trainer revealing a bad CID would make the round unprovable and cost the
        /// aggregator its bond. The claim can be answered: for `deadlines.reveal` blocks
        /// anyone may post the update on chain (`answer_set_aside`), and the round cannot
        /// close until that window has passed; the aggregation deadline moves so that the
        /// aggregator keeps a whole aggregation window after it.
        #[ink(message)]
        pub fn set_aside(&mut self, project: u32, round: u32, slot: u32) -> Result<()> {
            let (mut p, now) = self.aggregator_action(project, round)?;
            let mut entry = self
                .entries
                .get((project, round, slot))
                .filter(|e| e.cid.is_some())
                .ok_or(MarketError::NotRevealed)?;
            // An answered slot was shown to open: it cannot be set aside again.
            if entry.set_aside || entry.answered {
                return Err(MarketError::AlreadySetAside);
            }
            let trainer = self.drawn_trainer(project, round, slot)?;
            let answer_until = add(now, p.params.deadlines.reveal)?;
            entry.set_aside = true;
            entry.answer_until = answer_until;
            p.phase_deadline = p
                .phase_deadline
                .max(add(answer_until, p.params.deadlines.aggregate)?);
            self.entries.insert((project, round, slot), &entry);
            // A chunked submission was for the statement before this slot left it.
            self.pending.remove(project);
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

        /// Answers a set-aside while its round aggregates: anyone (the trainer, usually)
        /// posts the update the slot committed to, until the set-aside's `answer_until`, in
        /// pieces of at most `answer::PIECE_VALUES` values numbered from 0 (0 restarts; see
        /// `answer::Layout` for the cut; `dim` is the update's length, which a v3 project
        /// does not store). With the last piece the contract recomputes the commitment; if
        /// the update opens it, the slot is back in the round: the data is on chain now, so
        /// "cannot open" no longer holds, and the aggregator gets a whole aggregation
        /// window from now to prove the round with it. If it lets that pass instead, the
        /// abort pays its bond to the answered trainers. Returns how many pieces are still
        /// due (0: answered). An update that does not open the commitment changes nothing.
        #[ink(message)]
        pub fn answer_set_aside(
            &mut self,
            project: u32,
            round: u32,
            slot: u32,
            dim: u32,
            piece: u32,
            values: Vec<i16>,
        ) -> Result<u32> {
            let (mut p, now) = self.load_now(project)?;
            if p.phase != Phase::Aggregate {
                return Err(MarketError::WrongPhase);
            }
            if round != p.round {
                return Err(MarketError::WrongRound);
            }
            let key = (project, round, slot);
            let mut entry = self.ensure_answerable(key, now)?;
            let trainer = self.drawn_trainer(project, round, slot)?;
            let account = *trainer.account.as_ref();
            let layout = match self.chunked.get(project) {
                None => Layout {
                    dim: dim as usize,
                    chunk: None,
                },
                Some(statement) => {
                    if dim != statement.dim {
                        return Err(MarketError::BadLengths);
                    }
                    let (_, shape) = self.chunked_statement(project)?;
                    Layout {
                        dim: dim as usize,
                        chunk: Some(shape.chunk as usize),
                    }
                }
            };
            let mut opening = self.answers.get(key).unwrap_or_default();
            let wide = poseidon::wide::config();
            let opened = answer::take_piece(&wide, &layout, &account, &mut opening, piece, &values)
                .map_err(|e| match e {
                    AnswerError::BadPiece { expected } => MarketError::BadAnswerPiece { expected },
                    AnswerError::BadLayout => MarketError::BadLengths,
                    AnswerError::CorruptOpening => MarketError::BadCommitment,
                })?;
            let Some(opened) = opened else {
                let due = to_u32(layout.piece_count())?.saturating_sub(opening.pieces);
                self.answers.insert(key, &opening);
                self.answer_pieces
                    .insert((project, round, slot, piece), &values);
                return Ok(due);
            };
            if opened != entry.commitment {
                return Err(MarketError::AnswerDoesNotOpen);
            }
            self.answer_pieces
                .insert((project, round, slot, piece), &values);
            entry.set_aside = false;
            entry.answered = true;
            p.phase_deadline = p
                .phase_deadline
                .max(add(now, p.params.deadlines.aggregate)?);
            self.entries.insert(key, &entry);
            self.answers.remove(key);
            // A chunked submission was for the statement without this slot.
            self.pending.remove(project);
            self.projects.insert(project, &p);
            self.env().emit_event(SetAsideAnswered {
                project,
                trainer: account,
                round,
                slot,
            });
            Ok(0)
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
            let (p, now) = self.aggregator_action(project, round)?;
            if self.chunked.contains(project) {
                return Err(MarketError::WrongStatement);
            }
            self.ensure_no_open_answer(project, round, &p, now)?;
            check_cid(&model_cid)?;
            check_commitment(&model_commitment)?;
            let slots = self.statement_slots(project, round, &p, &scores, &accepted)?;
            let updates: Vec<Commitment> = slots
                .updates
                .iter()
                .map(|u| u.unwrap_or_default())
                .collect();
            let input = commit::round_public_input(&RoundInputs {
                project,
                round,
                prev_model: p.model_commitment,
                trainers: &slots.accounts,
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
            let proven = ProvenRound {
                round,
                model_cid,
                model_commitment,
                scores,
                accepted,
                public_input: poseidon::to_bytes(&input),
            };
            self.apply_round(project, p, now, slots.trainers, proven)
        }

        /// The aggregator opens a chunked round's finalisation (protocol v4,
        /// `docs/chunked-rounds.md`): the contract checks that every present slot's submitted
        /// chunk commitments rebuild its committed update and the previous model's rebuild
        /// the model commitment, sums the partial Gram matrices itself, computes each chunk
        /// proof's public input `P_k` and the decision's `P_dec`, and verifies the decision
        /// proof. The chunk proofs then verify in batches (`verify_chunk_proofs`), so that
        /// no single extrinsic carries the whole round; `finalize_chunked_round` applies it.
        /// Submitting again replaces a pending submission (its verified chunks with it).
        #[ink(message)]
        pub fn submit_chunked_round(
            &mut self,
            project: u32,
            round: u32,
            model_cid: Vec<u8>,
            submission: Submission,
            decision_proof: Vec<u8>,
        ) -> Result<()> {
            let (p, now) = self.aggregator_action(project, round)?;
            let (statement, shape) = self.chunked_statement(project)?;
            self.ensure_no_open_answer(project, round, &p, now)?;
            check_cid(&model_cid)?;
            let slots =
                self.statement_slots(project, round, &p, &submission.scores, &submission.accepted)?;
            let inputs = chunked::open_submission(
                &Stored {
                    project,
                    round,
                    params: statement.rule(p.params.slots),
                    chunk: shape.chunk as usize,
                    trainers: &slots.accounts,
                    updates: &slots.updates,
                    model: p.model_commitment,
                },
                &submission,
            )?;
            check_commitment(&inputs.new_model)?;
            match verifier::verify(&shape.decision_key, &decision_proof, &inputs.decision) {
                Ok(true) => {}
                Ok(false) => return Err(MarketError::BadDecisionProof),
                Err(_) => return Err(MarketError::MalformedProof),
            }
            let chunks = to_u32(submission.grams.len())?;
            let model_commitment = inputs.new_model;
            self.pending.insert(
                project,
                &PendingRound {
                    round,
                    model_cid,
                    model_commitment,
                    verified: ink::prelude::vec![false; submission.grams.len()],
                    submission,
                    decision_input: poseidon::to_bytes(&inputs.decision),
                },
            );
            // Persist the phase the deadline moves reached, as every other message does.
            self.projects.insert(project, &p);
            self.env().emit_event(ChunkedRoundSubmitted {
                project,
                round,
                chunks,
                model_commitment,
            });
            Ok(())
        }

        /// Verifies the proofs of chunks `first .. first + proofs.len()` of the submitted
        /// round in one batched pairing check (`verifier::verify_batch`) against the `P_k`
        /// the contract computed; returns how many chunk proofs are still due. A batch that
        /// fails names the first chunk whose proof does not verify.
        #[ink(message)]
        pub fn verify_chunk_proofs(
            &mut self,
            project: u32,
            round: u32,
            first: u32,
            proofs: Vec<Vec<u8>>,
        ) -> Result<u32> {
            let (p, _) = self.aggregator_action(project, round)?;
            let (_, shape) = self.chunked_statement(project)?;
            let mut pending = self.pending_for(project, round)?;
            if proofs.is_empty() {
                return Err(MarketError::BadChunkCount);
            }
            let mut items = Vec::with_capacity(proofs.len());
            for (j, proof) in proofs.iter().enumerate() {
                let chunk = add(first, to_u32(j)?)?;
                let k = chunk as usize;
                match pending.verified.get(k) {
                    None => return Err(MarketError::NoSuchChunk { chunk }),
                    Some(true) => return Err(MarketError::ChunkAlreadyVerified { chunk }),
                    Some(false) => {}
                }
                let input = chunked::chunk_input(project, round, &pending.submission, k)?;
                items.push(BatchItem {
                    key: &shape.chunk_key,
                    proof,
                    input,
                });
            }
            match verifier::verify_batch(&items) {
                Ok(true) => {}
                Ok(false) => {
                    // Name the culprit: the batch only says that some proof failed.
                    let bad = items
                        .iter()
                        .position(|it| {
                            !matches!(verifier::verify(it.key, it.proof, &it.input), Ok(true))
                        })
                        .unwrap_or_default();
                    return Err(MarketError::BadChunkProof {
                        chunk: add(first, to_u32(bad)?)?,
                    });
                }
                Err(_) => return Err(MarketError::MalformedProof),
            }
            let count = to_u32(items.len())?;
            for k in first..add(first, count)? {
                if let Some(v) = pending.verified.get_mut(k as usize) {
                    *v = true;
                }
            }
            let remaining = to_u32(pending.verified.iter().filter(|v| !**v).count())?;
            self.pending.insert(project, &pending);
            self.projects.insert(project, &p);
            self.env().emit_event(ChunkProofsVerified {
                project,
                round,
                first,
                count,
                remaining,
            });
            Ok(remaining)
        }

        /// Closes a chunked round once its decision proof and every chunk proof have
        /// verified: records and applies it exactly as `finalize_round` does.
        #[ink(message)]
        pub fn finalize_chunked_round(&mut self, project: u32, round: u32) -> Result<()> {
            let (p, now) = self.aggregator_action(project, round)?;
            self.chunked_statement(project)?;
            self.ensure_no_open_answer(project, round, &p, now)?;
            let pending = self.pending_for(project, round)?;
            if let Some(chunk) = pending.first_unverified() {
                return Err(MarketError::ChunkUnverified { chunk });
            }
            // The statement's slots cannot have changed since the submission: `set_aside`
            // drops a pending submission.
            let sub = &pending.submission;
            let slots = self.statement_slots(project, round, &p, &sub.scores, &sub.accepted)?;
            self.pending.remove(project);
            let proven = ProvenRound {
                round,
                model_cid: pending.model_cid,
                model_commitment: pending.model_commitment,
                scores: pending.submission.scores,
                accepted: pending.submission.accepted,
                public_input: pending.decision_input,
            };
            self.apply_round(project, p, now, slots.trainers, proven)
        }

        /// Anyone may abort a project whose aggregator let the aggregation deadline pass.
        /// Proven rounds are still paid; the aggregator's bond goes to the owner.
        #[ink(message)]
        pub fn abort(&mut self, project: u32) -> Result<()> {
            let (mut p, now) = self.load_now(project)?;
            if p.phase != Phase::Aggregate {
                return Err(MarketError::WrongPhase);
            }
            if now <= p.phase_deadline {
                return Err(MarketError::TooEarly);
            }
            // The reveal phase of this round is over: a commitment without a reveal forfeits.
            // Only the round's drawn slots can hold entries.
            let drawn = self.draws.get((project, p.round)).unwrap_or_default();
            let mut missed = Vec::new();
            // A set-aside answered in this round and then left unproven: the bond pays them.
            let mut answered = Vec::new();
            for (slot, &index) in (0u32..).zip(&drawn.trainers) {
                let Some(e) = self.entries.get((project, p.round, slot)) else {
                    continue;
                };
                let mut t = self
                    .trainers
                    .get((project, index))
                    .ok_or(MarketError::NotTrainer)?;
                if e.answered {
                    answered.push(t.account);
                }
                if e.cid.is_none() {
                    let was = t.forfeited(p.params.max_rejected_rounds);
                    t.missed_reveal = true;
                    count_forfeit(&mut p, was, &t)?;
                    missed.push((index, t));
                }
            }
            for (index, t) in &missed {
                self.trainers.insert((project, *index), t);
            }
            self.pending.remove(project);
            self.end(project, p, Phase::Aborted, &answered)
        }

        /// Pays the caller everything it is owed by an ended project (every role at once).
        /// A trainer's share is worked out here, from the project's running totals, so that
        /// ending a project never loops over its trainers.
        #[ink(message)]
        pub fn claim(&mut self, project: u32) -> Result<Balance> {
            let mut p = self.load(project)?;
            if !p.phase.is_terminal() {
                return Err(MarketError::WrongPhase);
            }
            let caller = self.env().caller();
            let credited = self.claims.get((project, caller)).unwrap_or_default();
            let trainer = self.unclaimed_trainer(project, &p, caller)?;
            let owed = trainer.as_ref().map_or(0, |(_, t, e)| {
                e.trainer(t.total_score, t.forfeited(p.params.max_rejected_rounds))
            });
            let amount = credited.checked_add(owed).ok_or(MarketError::Overflow)?;
            if amount == 0 {
                return Err(MarketError::NothingToClaim);
            }
            // Effects before the interaction; an Err reverts them on chain.
            self.claims.remove((project, caller));
            if let Some((index, mut t, ended)) = trainer {
                t.claimed = true;
                self.trainers.insert((project, index), &t);
                // A cancelled project scored nobody.
                if t.total_score > 0 {
                    p.paid_by_score = p
                        .paid_by_score
                        .checked_add(ended.by_score(t.total_score))
                        .ok_or(MarketError::Overflow)?;
                    p.scored_claimed = add(p.scored_claimed, 1)?;
                    // The last scored trainer's claim fixes the split's rounding remainder.
                    if p.scored_claimed == p.scored {
                        self.credit(project, p.owner, ended.remainder(p.paid_by_score))?;
                    }
                    self.projects.insert(project, &p);
                }
            }
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
            view.chunked = self.chunked.get(id);
            Ok(view)
        }

        /// How many proof shapes were ever registered (ids are `0..shape_count`).
        #[ink(message)]
        pub fn shape_count(&self) -> u32 {
            self.next_shape
        }

        /// One registered proof shape, or `NoSuchShape`.
        #[ink(message)]
        pub fn shape(&self, id: u32) -> Result<ShapeView> {
            let s = self.shapes.get(id).ok_or(MarketError::NoSuchShape)?;
            Ok(ShapeView {
                id,
                slots: s.slots,
                chunk: s.chunk,
                keys_cid: s.keys_cid,
                registered_by: *s.registered_by.as_ref(),
                chunk_key: s.chunk_key,
                decision_key: s.decision_key,
            })
        }

        /// The current round's chunked submission, while it awaits its chunk proofs.
        #[ink(message)]
        pub fn pending_round(&self, project: u32) -> Result<Option<PendingRound>> {
            self.load(project)?;
            Ok(self.pending.get(project))
        }

        /// Up to `TRAINERS_PER_PAGE` joined trainers from index `first`, in join order
        /// (empty past the last): a client pages through any number joined.
        #[ink(message)]
        pub fn trainers(&self, project: u32, first: u32) -> Result<Vec<TrainerView>> {
            let p = self.load(project)?;
            let end = first.saturating_add(TRAINERS_PER_PAGE).min(p.trainers);
            Ok((first..end)
                .filter_map(|index| self.trainer_view(project, index))
                .collect())
        }

        /// The trainer `account` joined `project` as, if it did.
        #[ink(message)]
        pub fn trainer_of(&self, project: u32, account: AccountId) -> Result<Option<TrainerView>> {
            self.load(project)?;
            Ok(self
                .slot_of
                .get((project, account))
                .and_then(|index| self.trainer_view(project, index)))
        }

        /// Every drawn slot of a round: its trainer, commitment and revealed CID, if any.
        #[ink(message)]
        pub fn round_slots(&self, project: u32, round: u32) -> Result<Vec<SlotView>> {
            let p = self.load(project)?;
            if round > p.round {
                return Err(MarketError::WrongRound);
            }
            let drawn = self.draws.get((project, round)).unwrap_or_default();
            Ok((0u32..)
                .zip(drawn.trainers)
                .filter_map(|(slot, index)| {
                    let t = self.trainers.get((project, index))?;
                    let e = self.entries.get((project, round, slot));
                    Some(SlotView {
                        slot,
                        trainer: index,
                        account: *t.account.as_ref(),
                        commitment: e.as_ref().map(|e| e.commitment),
                        set_aside: e.as_ref().is_some_and(|e| e.set_aside),
                        answer_until: e.as_ref().map_or(0, |e| e.answer_until),
                        answered: e.as_ref().is_some_and(|e| e.answered),
                        cid: e.and_then(|e| e.cid),
                    })
                })
                .collect())
        }

        /// Which trainers a round drew, slot by slot (None before it was drawn).
        #[ink(message)]
        pub fn round_draw(&self, project: u32, round: u32) -> Result<Option<RoundDraw>> {
            self.load(project)?;
            Ok(self.draws.get((project, round)))
        }

        /// What finalisation recorded for a round (None while it is open).
        #[ink(message)]
        pub fn round_record(&self, project: u32, round: u32) -> Result<Option<RoundRecord>> {
            self.load(project)?;
            Ok(self.records.get((project, round)))
        }

        /// Piece `piece` of the update that answered slot `slot`'s set-aside in `round`
        /// (`answer::Layout` says how many there are); `NotSetAside` if the slot was not
        /// answered.
        #[ink(message)]
        pub fn answer_piece(
            &self,
            project: u32,
            round: u32,
            slot: u32,
            piece: u32,
        ) -> Result<Vec<i16>> {
            self.load(project)?;
            self.entries
                .get((project, round, slot))
                .filter(|e| e.answered)
                .ok_or(MarketError::NotSetAside)?;
            self.answer_pieces
                .get((project, round, slot, piece))
                .ok_or(MarketError::BadAnswerPiece { expected: piece })
        }

        /// The ceremony transcripts a proof shape's keys come from, if its registrant
        /// recorded them.
        #[ink(message)]
        pub fn shape_setup(&self, shape: u32) -> Result<Option<ShapeSetup>> {
            if !self.shapes.contains(shape) {
                return Err(MarketError::NoSuchShape);
            }
            Ok(self.shape_setups.get(shape))
        }

        /// The ceremony transcript the project's keys come from, if its owner recorded one.
        #[ink(message)]
        pub fn setup(&self, project: u32) -> Result<Option<SetupRecord>> {
            self.load(project)?;
            Ok(self.setups.get(project))
        }

        /// What `account` can claim from an ended project (0 before it ends).
        #[ink(message)]
        pub fn claimable(&self, project: u32, account: AccountId) -> Result<Balance> {
            let p = self.load(project)?;
            let credited = self.claims.get((project, account)).unwrap_or_default();
            let owed = match p.phase.is_terminal() {
                true => self
                    .unclaimed_trainer(project, &p, account)?
                    .map_or(0, |(_, t, e)| {
                        e.trainer(t.total_score, t.forfeited(p.params.max_rejected_rounds))
                    }),
                false => 0,
            };
            credited.checked_add(owed).ok_or(MarketError::Overflow)
        }

        // ---- internals ------------------------------------------------------------------

        fn trainer_view(&self, project: u32, index: u32) -> Option<TrainerView> {
            self.trainers.get((project, index)).map(|t| TrainerView {
                slot: index,
                account: *t.account.as_ref(),
                total_score: t.total_score,
                rejected_rounds: t.rejected_rounds,
                missed_reveal: t.missed_reveal,
                rounds_drawn: t.rounds_drawn,
            })
        }

        /// Refuses to close `round` while one of its set-asides can still be answered.
        fn ensure_no_open_answer(
            &self,
            project: u32,
            round: u32,
            p: &Project,
            now: BlockNumber,
        ) -> Result<()> {
            for slot in 0..p.drawn {
                if let Some(e) = self.entries.get((project, round, slot)) {
                    if e.set_aside && !e.answered && now <= e.answer_until {
                        return Err(MarketError::AnswerWindowOpen);
                    }
                }
            }
            Ok(())
        }

        /// The set-aside at `key`, if it can still be answered at block `now`.
        fn ensure_answerable(&self, key: EntryKey, now: BlockNumber) -> Result<Entry> {
            let entry = self.entries.get(key).ok_or(MarketError::NotSetAside)?;
            if entry.answered {
                return Err(MarketError::AlreadyAnswered);
            }
            if !entry.set_aside {
                return Err(MarketError::NotSetAside);
            }
            if now > entry.answer_until {
                return Err(MarketError::AnswerWindowClosed);
            }
            Ok(entry)
        }

        /// Adds `amount` to what `who` may claim from `project`.
        fn credit(&mut self, project: u32, who: AccountId, amount: Balance) -> Result<()> {
            if amount == 0 {
                return Ok(());
            }
            let prior = self.claims.get((project, who)).unwrap_or_default();
            let total = prior.checked_add(amount).ok_or(MarketError::Overflow)?;
            self.claims.insert((project, who), &total);
            Ok(())
        }

        /// A recorded `[δ]G1` must carry the δ of the project's stored verifying key.
        fn ensure_delta_matches_key(&self, project: u32, delta_g1: &[u8; 32]) -> Result<()> {
            let key = self.verifying_keys.get(project).unwrap_or_default();
            ensure_delta_matches(&key, delta_g1)
        }

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
        /// `round`, and the round drew the caller. Returns the advanced project, the block,
        /// the caller, and its (trainer index, slot).
        fn trainer_action(
            &self,
            project: u32,
            phase: Phase,
            round: u32,
        ) -> Result<(Project, BlockNumber, AccountId, (u32, u32))> {
            let (p, now) = self.load_now(project)?;
            if p.phase != phase {
                return Err(MarketError::WrongPhase);
            }
            if round != p.round {
                return Err(MarketError::WrongRound);
            }
            let caller = self.env().caller();
            let index = self
                .slot_of
                .get((project, caller))
                .ok_or(MarketError::NotTrainer)?;
            let drawn = self.draws.get((project, round)).unwrap_or_default();
            let slot = drawn
                .trainers
                .iter()
                .position(|&t| t == index)
                .ok_or(MarketError::NotDrawn)?;
            Ok((p, now, caller, (index, to_u32(slot)?)))
        }

        /// The trainer `round` drew for `slot`.
        fn drawn_trainer(&self, project: u32, round: u32, slot: u32) -> Result<Trainer> {
            let index = self
                .draws
                .get((project, round))
                .and_then(|d| d.trainers.get(slot as usize).copied())
                .ok_or(MarketError::NotTrainer)?;
            self.trainers
                .get((project, index))
                .ok_or(MarketError::NotTrainer)
        }

        /// Draws the current round's trainers (`draw::draw`, seeded by
        /// `draw::round_seed(project, round, previous seed, entropy)`), records the draw
        /// and emits it. O(slots) hashes, whatever the number joined.
        fn draw_round(&mut self, project: u32, p: &mut Project, entropy: &[u8]) -> Result<()> {
            let seed = draw::round_seed(project, p.round, &p.seed, entropy);
            // `slots ≤ MAX_SLOTS` was validated at creation; exhaustion has probability
            // below 2^-128.
            let trainers =
                draw::draw(&seed, p.trainers, p.params.slots).map_err(|_| MarketError::Overflow)?;
            p.seed = seed;
            p.drawn = to_u32(trainers.len())?;
            let record = RoundDraw { seed, trainers };
            self.draws.insert((project, p.round), &record);
            self.env().emit_event(RoundDrawn {
                project,
                round: p.round,
                seed,
                trainers: record.trainers,
            });
            Ok(())
        }

        /// The fixed part of an ended project's settlement, from its running totals.
        fn ended_of(&self, p: &Project) -> Result<reward::Ended> {
            let outcome = match p.phase {
                Phase::Finished => Outcome::Finished,
                Phase::Cancelled => Outcome::Cancelled,
                // Only the aggregator's missed deadline aborts a project.
                _ => Outcome::Aborted {
                    rounds_done: p.round,
                    rounds_total: p.params.rounds,
                    aggregator_at_fault: true,
                },
            };
            reward::ended(&Totals {
                pool: p.pool,
                aggregator_fee: p.params.aggregator_fee,
                aggregator_bond: if p.aggregator_bonded {
                    p.params.aggregator_bond
                } else {
                    0
                },
                stake: p.params.trainer_stake,
                score_total: p.score_total,
                forfeits: p.forfeits,
                outcome,
            })
            .map_err(|_| MarketError::Overflow)
        }

        /// `account` as a trainer of the ended project `p` that has not claimed yet: its
        /// index, its record and the settlement that fixes its claim.
        fn unclaimed_trainer(
            &self,
            project: u32,
            p: &Project,
            account: AccountId,
        ) -> Result<Option<(u32, Trainer, reward::Ended)>> {
            let Some(index) = self.slot_of.get((project, account)) else {
                return Ok(None);
            };
            let t = self
                .trainers
                .get((project, index))
                .ok_or(MarketError::NotTrainer)?;
            if t.claimed {
                return Ok(None);
            }
            Ok(Some((index, t, self.ended_of(p)?)))
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

        /// A chunked project's statement and its shape, or `WrongStatement` for a v3 one.
        fn chunked_statement(&self, project: u32) -> Result<(ChunkedParams, Shape)> {
            let statement = self
                .chunked
                .get(project)
                .ok_or(MarketError::WrongStatement)?;
            let shape = self
                .shapes
                .get(statement.shape)
                .ok_or(MarketError::NoSuchShape)?;
            Ok((statement, shape))
        }

        /// The chunked submission pending for `round`, or `NothingSubmitted`.
        fn pending_for(&self, project: u32, round: u32) -> Result<PendingRound> {
            self.pending
                .get(project)
                .filter(|p| p.round == round)
                .ok_or(MarketError::NothingSubmitted)
        }

        /// The round statement's slots from storage, with the claimed scores and accept
        /// bits checked against them: one per slot, in range, none for a slot that is not
        /// present (unrevealed or set aside). Unfilled slots have the zero account.
        fn statement_slots(
            &self,
            project: u32,
            round: u32,
            p: &Project,
            scores: &[u32],
            accepted: &[bool],
        ) -> Result<StatementSlots> {
            let n = p.params.slots as usize;
            if scores.len() != n || accepted.len() != n {
                return Err(MarketError::BadLengths);
            }
            let mut out = StatementSlots {
                accounts: Vec::with_capacity(n),
                updates: Vec::with_capacity(n),
                trainers: Vec::with_capacity(n),
            };
            let drawn = self.draws.get((project, round)).unwrap_or_default();
            for slot in 0..p.params.slots {
                let i = slot as usize;
                let index = drawn.trainers.get(i).copied();
                let trainer = index.and_then(|index| self.trainers.get((project, index)));
                let entry = self.entries.get((project, round, slot));
                let revealed = entry.as_ref().is_some_and(|e| e.cid.is_some());
                let present = entry.as_ref().is_some_and(Entry::present);
                let score = scores.get(i).copied().unwrap_or_default();
                let accept = accepted.get(i).copied().unwrap_or_default();
                if score > MAX_ROUND_SCORE || (!present && (accept || score != 0)) {
                    return Err(MarketError::BadScore);
                }
                out.accounts
                    .push(trainer.as_ref().map_or([0u8; 32], |t| *t.account.as_ref()));
                out.updates.push(match &entry {
                    Some(e) if present => Some(e.commitment),
                    _ => None,
                });
                if let (Some(index), Some(t)) = (index, trainer) {
                    out.trainers
                        .push((slot, index, t, entry.is_some(), revealed, present));
                }
            }
            Ok(out)
        }

        /// Records a proven round and applies it to every trainer; moves the project to
        /// the next round, or ends it after the last.
        fn apply_round(
            &mut self,
            project: u32,
            mut p: Project,
            now: BlockNumber,
            trainers: Vec<DrawnTrainer>,
            r: ProvenRound,
        ) -> Result<()> {
            let mut updated = Vec::with_capacity(trainers.len());
            for (slot, index, mut t, committed, revealed, present) in trainers {
                let i = slot as usize;
                let score = r.scores.get(i).copied().unwrap_or_default();
                let was_forfeited = t.forfeited(p.params.max_rejected_rounds);
                if t.total_score == 0 && score > 0 {
                    p.scored = add(p.scored, 1)?;
                }
                t.total_score = t
                    .total_score
                    .checked_add(score)
                    .ok_or(MarketError::Overflow)?;
                p.score_total = p
                    .score_total
                    .checked_add(u64::from(score))
                    .ok_or(MarketError::Overflow)?;
                t.rounds_drawn = add(t.rounds_drawn, 1)?;
                // Only a proven rejection counts; a set-aside reveal was never judged.
                if present && !r.accepted.get(i).copied().unwrap_or_default() {
                    t.rejected_rounds = add(t.rejected_rounds, 1)?;
                }
                if committed && !revealed {
                    t.missed_reveal = true;
                }
                count_forfeit(&mut p, was_forfeited, &t)?;
                updated.push((index, t));
            }
            let round = r.round;
            let record = RoundRecord {
                model_cid: r.model_cid.clone(),
                model_commitment: r.model_commitment,
                scores: r.scores.clone(),
                accepted: r.accepted.clone(),
                public_input: r.public_input,
                finalized_at: now,
            };
            p.round = add(round, 1)?;
            p.model_cid = r.model_cid.clone();
            p.model_commitment = r.model_commitment;
            p.committed = 0;
            p.revealed = 0;
            let finished = p.round == p.params.rounds;
            if !finished {
                p.phase = Phase::Commit;
                p.phase_deadline = add(now, p.params.deadlines.commit)?;
            }
            for (index, t) in &updated {
                self.trainers.insert((project, *index), t);
            }
            self.records.insert((project, round), &record);
            self.env().emit_event(RoundFinalized {
                project,
                round,
                model_cid: r.model_cid,
                model_commitment: r.model_commitment,
                scores: r.scores,
                accepted: r.accepted,
            });
            if finished {
                return self.end(project, p, Phase::Finished, &[]);
            }
            // The next draw's entropy: the round just proven (its public input binds every
            // slot's account and commitment, the scores and the new model). No block number:
            // the draw's gas must not change between the dry-run and the block it lands in.
            let entropy = r.public_input;
            self.draw_round(project, &mut p, &entropy)?;
            self.projects.insert(project, &p);
            Ok(())
        }

        /// Moves a project to a terminal phase and credits the owner's and the aggregator's
        /// claims (docs/design.md, "Money rules", `merit_protocol::reward::ended`) from the
        /// running totals: O(1), whatever the number joined. Each trainer's claim is worked
        /// out when it claims. An aborted project (only ever the aggregator's fault) pays its
        /// bond to the accounts in `bond_to` (the answered set-asides of its last round, at
        /// most `slots`) rather than the owner.
        fn end(
            &mut self,
            project: u32,
            mut p: Project,
            phase: Phase,
            bond_to: &[AccountId],
        ) -> Result<()> {
            p.phase = phase;
            let ended = self.ended_of(&p)?;
            let mut owner = ended.owner;
            if p.aggregator_bonded && phase == Phase::Aborted {
                let (left, each) =
                    reward::move_bond(owner, p.params.aggregator_bond, bond_to.len())
                        .map_err(|_| MarketError::Overflow)?;
                owner = left;
                for who in bond_to {
                    self.credit(project, *who, each)?;
                }
            }
            // One account may hold both roles; its claims add up (`credit`).
            self.credit(project, p.owner, owner)?;
            self.credit(project, p.aggregator(), ended.aggregator)?;
            let rounds_done = p.round;
            self.projects.insert(project, &p);
            self.env().emit_event(ProjectEnded {
                project,
                phase,
                rounds_done,
            });
            Ok(())
        }
    }

    /// Adds a trainer's stake to the project's forfeits the first time it is forfeited
    /// (`was`: it already was before this round).
    fn count_forfeit(p: &mut Project, was: bool, t: &Trainer) -> Result<()> {
        if !was && t.forfeited(p.params.max_rejected_rounds) {
            p.forfeits = p
                .forfeits
                .checked_add(p.params.trainer_stake)
                .ok_or(MarketError::Overflow)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
