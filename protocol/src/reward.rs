//! Reward maths, as pure integer functions that the contract calls too.
//!
//! Rules (docs/design.md, "Money rules"):
//! - Trainer payout = `distributable × total_score / Σ total_scores`, rounded down; the
//!   remainder goes to the owner; a zero total earns nothing; if every total is zero the
//!   whole distributable amount returns to the owner.
//! - A stake comes back unless the trainer committed without revealing, or was rejected in
//!   more rounds than the spec allows; a forfeited stake joins the distributable amount.
//! - Aborted: the proven share of the pool (rounds finalised / rounds) is distributed by
//!   score; the rest returns to the owner. The aggregator's fee is earned per finalised
//!   round, and its bond is forfeited (to the owner) if the abort was its missed deadline.
//! - Conservation: the claims always add up to exactly everything deposited.
//!
//! Scores are u32 (at most 1,000 per round × `MAX_ROUNDS`), which keeps every product
//! below 2^128 (see `share`).

use crate::abi::{Phase, ProjectView, TrainerView};
use alloc::vec::Vec;

/// How a project ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    Aborted {
        rounds_done: u32,
        rounds_total: u32,
        aggregator_at_fault: bool,
    },
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainerAccount {
    pub stake: u128,
    pub total_score: u32,
    pub forfeited: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub pool: u128,
    pub aggregator_fee: u128,
    pub aggregator_bond: u128,
    pub trainers: Vec<TrainerAccount>,
    pub outcome: Outcome,
}

/// Who may claim what.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    pub owner: u128,
    pub aggregator: u128,
    pub trainers: Vec<u128>,
}

impl Claims {
    pub fn total(&self) -> Option<u128> {
        self.trainers
            .iter()
            .try_fold(self.owner.checked_add(self.aggregator)?, |a, &t| {
                a.checked_add(t)
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewardError {
    /// The fee exceeds the pool.
    FeeAbovePool,
    /// rounds_done > rounds_total, or rounds_total = 0.
    BadRounds,
    /// Deposits add up past u128.
    Overflow,
}

impl core::fmt::Display for RewardError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::FeeAbovePool => "the aggregator fee exceeds the pool",
            Self::BadRounds => "rounds done must be between 0 and the project's rounds (> 0)",
            Self::Overflow => "deposits overflow u128",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RewardError {}

/// ⌊amount × part / whole⌋ without overflow for part ≤ whole ≤ 2^64:
/// amount = q·whole + r, so amount·part/whole = q·part + ⌊r·part/whole⌋ with r·part < 2^128.
pub fn share(amount: u128, part: u64, whole: u64) -> u128 {
    if whole == 0 {
        return 0;
    }
    debug_assert!(part <= whole);
    let (whole, part) = (u128::from(whole), u128::from(part));
    let q = amount / whole;
    let r = amount % whole;
    q * part + r * part / whole
}

/// Splits `amount` by `scores`; returns (per-trainer payouts, remainder).
pub fn split_by_score(amount: u128, scores: &[u32]) -> (Vec<u128>, u128) {
    let total: u64 = scores.iter().map(|&s| u64::from(s)).sum();
    if total == 0 {
        return (alloc::vec![0; scores.len()], amount);
    }
    let payouts: Vec<u128> = scores
        .iter()
        .map(|&s| share(amount, u64::from(s), total))
        .collect();
    let paid: u128 = payouts.iter().sum();
    (payouts, amount - paid)
}

/// Moves the forfeited `bond` of an aborted project from the owner to the trainers at
/// `to` (slot indices), in equal shares; the remainder of the division stays with the
/// owner. These are the trainers whose set-aside was answered in the round the aggregator
/// then failed to prove: the bond pays the ones the aggregator wronged, not the owner, who
/// might be the aggregator's accomplice (SPEC §11). No-op when `to` is empty.
pub fn pay_bond_to(claims: &mut Claims, bond: u128, to: &[usize]) -> Result<(), RewardError> {
    if to.is_empty() {
        return Ok(());
    }
    if to.iter().any(|&slot| slot >= claims.trainers.len()) {
        return Err(RewardError::Overflow);
    }
    let (owner, each) = move_bond(claims.owner, bond, to.len())?;
    claims.owner = owner;
    for &slot in to {
        let c = claims.trainers.get_mut(slot).ok_or(RewardError::Overflow)?;
        *c = c.checked_add(each).ok_or(RewardError::Overflow)?;
    }
    Ok(())
}

/// The owner's claim after a forfeited `bond` moved from it to `answered` trainers in
/// equal shares, and each share ([`pay_bond_to`]; the contract credits the shares to the
/// trainers' accounts itself). The remainder of the division stays with the owner.
pub fn move_bond(owner: u128, bond: u128, answered: usize) -> Result<(u128, u128), RewardError> {
    let n = u128::try_from(answered).map_err(|_| RewardError::Overflow)?;
    if n == 0 {
        return Ok((owner, 0));
    }
    let each = bond / n;
    let left = owner.checked_sub(each * n).ok_or(RewardError::Overflow)?;
    Ok((left, each))
}

/// Whether a trainer loses its stake.
pub fn stake_forfeited(
    committed_without_reveal: bool,
    rejected_rounds: u32,
    max_rejected_rounds: u32,
) -> bool {
    committed_without_reveal || rejected_rounds > max_rejected_rounds
}

/// The settlement an ended project's chain state implies, rebuilt from the getters
/// (`project`, `trainers`) exactly as the contract's `end` builds it from storage, so a
/// client can show every payout after the claims were made. `None` while the project runs.
/// Only the aggregator's missed deadline aborts a project, so an abort is its fault.
pub fn settlement_of(view: &ProjectView, trainers: &[TrainerView]) -> Option<Settlement> {
    let outcome = match view.phase {
        Phase::Finished => Outcome::Finished,
        Phase::Cancelled => Outcome::Cancelled,
        Phase::Aborted => Outcome::Aborted {
            rounds_done: view.round,
            rounds_total: view.params.rounds,
            aggregator_at_fault: true,
        },
        Phase::Open | Phase::Commit | Phase::Reveal | Phase::Aggregate => return None,
    };
    Some(Settlement {
        pool: view.pool,
        aggregator_fee: view.params.aggregator_fee,
        aggregator_bond: if view.aggregator_bonded {
            view.params.aggregator_bond
        } else {
            0
        },
        trainers: trainers
            .iter()
            .map(|t| TrainerAccount {
                stake: view.params.trainer_stake,
                total_score: t.total_score,
                forfeited: stake_forfeited(
                    t.missed_reveal,
                    t.rejected_rounds,
                    view.params.max_rejected_rounds,
                ),
            })
            .collect(),
        outcome,
    })
}

/// What an ended project owes everyone but its trainers, and what fixes each trainer's
/// claim: every quantity here is a running total the contract keeps as rounds close, so a
/// project ends in O(1) and each trainer's claim is computed when it claims
/// ([`Ended::trainer`]), with no loop over the joined trainers anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub pool: u128,
    pub aggregator_fee: u128,
    pub aggregator_bond: u128,
    /// The stake every trainer deposited on joining (one per trainer, whatever its draws).
    pub stake: u128,
    /// Σ of every trainer's total score.
    pub score_total: u64,
    /// Σ of the forfeited stakes.
    pub forfeits: u128,
    pub outcome: Outcome,
}

/// The claims an ended project fixes: the owner's and the aggregator's in full, the
/// trainers' as a rule ([`Ended::trainer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// Everything the owner gets back, except the rounding remainder of the score split
    /// ([`Ended::remainder`], known once every scored trainer has been paid).
    pub owner: u128,
    pub aggregator: u128,
    /// Split by score among the trainers (the proven pool plus the forfeited stakes);
    /// 0 when nobody scored (then it is in `owner`).
    pub distributable: u128,
    pub score_total: u64,
    pub stake: u128,
    pub cancelled: bool,
}

impl Ended {
    /// A trainer's claim: ⌊distributable × total_score / Σ scores⌋, plus its stake unless
    /// forfeited (every stake back if the project was cancelled).
    pub fn trainer(&self, total_score: u32, forfeited: bool) -> u128 {
        if self.cancelled {
            return self.stake;
        }
        let paid = self.by_score(total_score);
        paid.saturating_add(if forfeited { 0 } else { self.stake })
    }

    /// The score part of a trainer's claim.
    pub fn by_score(&self, total_score: u32) -> u128 {
        if self.cancelled {
            return 0;
        }
        share(self.distributable, u64::from(total_score), self.score_total)
    }

    /// What the score split leaves once `paid` (Σ of [`Ended::by_score`] over every
    /// trainer) went out: the rounding remainder, the owner's.
    pub fn remainder(&self, paid: u128) -> u128 {
        self.distributable.saturating_sub(paid)
    }
}

/// The fixed part of an ended project's settlement (see [`Totals`]).
pub fn ended(t: &Totals) -> Result<Ended, RewardError> {
    if t.aggregator_fee > t.pool {
        return Err(RewardError::FeeAbovePool);
    }
    t.pool
        .checked_add(t.aggregator_bond)
        .and_then(|d| d.checked_add(t.forfeits))
        .ok_or(RewardError::Overflow)?;
    let mut e = Ended {
        owner: 0,
        aggregator: 0,
        distributable: 0,
        score_total: t.score_total,
        stake: t.stake,
        cancelled: false,
    };
    let (fee, proven_pool, owner_back, bond_to_owner) = match t.outcome {
        Outcome::Cancelled => {
            e.owner = t.pool;
            e.aggregator = t.aggregator_bond;
            e.cancelled = true;
            return Ok(e);
        }
        Outcome::Finished => (t.aggregator_fee, t.pool - t.aggregator_fee, 0, false),
        Outcome::Aborted {
            rounds_done,
            rounds_total,
            aggregator_at_fault,
        } => {
            if rounds_total == 0 || rounds_done > rounds_total {
                return Err(RewardError::BadRounds);
            }
            let fee = share(t.aggregator_fee, rounds_done.into(), rounds_total.into());
            let rewards = t.pool - t.aggregator_fee;
            let proven = share(rewards, rounds_done.into(), rounds_total.into());
            (fee, proven, t.pool - fee - proven, aggregator_at_fault)
        }
    };
    let distributable = proven_pool + t.forfeits;
    let (distributable, unpaid) = if t.score_total == 0 {
        (0, distributable)
    } else {
        (distributable, 0)
    };
    e.distributable = distributable;
    e.aggregator = fee + if bond_to_owner { 0 } else { t.aggregator_bond };
    e.owner = owner_back + unpaid + if bond_to_owner { t.aggregator_bond } else { 0 };
    Ok(e)
}

/// Everyone's claim at the end of a project: [`ended`] and every trainer's
/// [`Ended::trainer`], the score split's remainder to the owner.
pub fn settle(s: &Settlement) -> Result<Claims, RewardError> {
    let deposits = s
        .trainers
        .iter()
        .try_fold(s.pool.checked_add(s.aggregator_bond), |acc, t| {
            acc?.checked_add(t.stake).map(Some)
        })
        .flatten();
    deposits.ok_or(RewardError::Overflow)?;
    let score_total: u64 = s.trainers.iter().map(|t| u64::from(t.total_score)).sum();
    let forfeits: u128 = s
        .trainers
        .iter()
        .filter(|t| t.forfeited)
        .map(|t| t.stake)
        .sum();
    // Stakes may differ between trainers here (the contract's are all equal): each
    // trainer's own stake is what it gets back.
    let e = ended(&Totals {
        pool: s.pool,
        aggregator_fee: s.aggregator_fee,
        aggregator_bond: s.aggregator_bond,
        stake: 0,
        score_total,
        forfeits,
        outcome: s.outcome,
    })?;
    let mut paid = 0u128;
    let trainers = s
        .trainers
        .iter()
        .map(|t| {
            if e.cancelled {
                return t.stake;
            }
            let by_score = e.by_score(t.total_score);
            paid += by_score;
            by_score + if t.forfeited { 0 } else { t.stake }
        })
        .collect();
    Ok(Claims {
        owner: e.owner + e.remainder(paid),
        aggregator: e.aggregator,
        trainers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn t(stake: u128, total_score: u32, forfeited: bool) -> TrainerAccount {
        TrainerAccount {
            stake,
            total_score,
            forfeited,
        }
    }

    #[test]
    fn share_is_exact_even_for_huge_amounts() {
        assert_eq!(share(100, 1, 3), 33);
        assert_eq!(share(u128::MAX, 1, 1), u128::MAX);
        // u128::MAX = m·(m + 2) for m = u64::MAX, so the exact answer is u128::MAX − (m + 2).
        assert_eq!(
            share(u128::MAX, u64::MAX - 1, u64::MAX),
            u128::MAX - (u128::from(u64::MAX) + 2)
        );
        assert_eq!(share(7, 0, 0), 0);
    }

    #[test]
    fn split_sends_the_remainder_to_the_owner_and_nothing_for_zero() {
        assert_eq!(split_by_score(100, &[1, 1, 1]), (vec![33, 33, 33], 1));
        assert_eq!(split_by_score(100, &[0, 5, 0]), (vec![0, 100, 0], 0));
        assert_eq!(split_by_score(100, &[0, 0]), (vec![0, 0], 100));
        assert_eq!(split_by_score(100, &[]), (vec![], 100));
    }

    #[test]
    fn forfeit_rules() {
        assert!(stake_forfeited(true, 0, 3));
        assert!(stake_forfeited(false, 4, 3));
        assert!(!stake_forfeited(false, 3, 3));
    }

    #[test]
    fn finished_project_pays_fee_scores_and_stakes() {
        let s = Settlement {
            pool: 1_000,
            aggregator_fee: 100,
            aggregator_bond: 50,
            trainers: vec![t(10, 3, false), t(10, 1, false), t(10, 0, true)],
            outcome: Outcome::Finished,
        };
        let c = settle(&s).unwrap();
        // 900 + 10 forfeited = 910 by 3:1 → 682, 227, remainder 1.
        assert_eq!(c.trainers, vec![682 + 10, 227 + 10, 0]);
        assert_eq!(c.aggregator, 150);
        assert_eq!(c.owner, 1);
        assert_eq!(c.total(), Some(1_000 + 50 + 30));
    }

    #[test]
    fn an_unproven_answered_rounds_bond_goes_to_the_answered_trainers() {
        let s = Settlement {
            pool: 1_000,
            aggregator_fee: 100,
            aggregator_bond: 50,
            trainers: vec![t(10, 0, false), t(10, 0, false), t(10, 0, false)],
            outcome: Outcome::Aborted {
                rounds_done: 0,
                rounds_total: 2,
                aggregator_at_fault: true,
            },
        };
        let base = settle(&s).unwrap();
        let mut c = base.clone();
        pay_bond_to(&mut c, 50, &[0, 2]).unwrap();
        assert_eq!(c.owner, base.owner - 50);
        assert_eq!(c.trainers, vec![35, 10, 35]);
        assert_eq!(c.total(), base.total(), "money is moved, never made");
        let mut odd = base.clone();
        pay_bond_to(&mut odd, 50, &[0, 1, 2]).unwrap();
        assert_eq!((odd.owner, odd.trainers[1]), (base.owner - 48, 26));
        let mut none = base.clone();
        pay_bond_to(&mut none, 50, &[]).unwrap();
        assert_eq!(none, base);
        assert_eq!(pay_bond_to(&mut c, 50, &[7]), Err(RewardError::Overflow));
    }

    #[test]
    fn abort_pays_proven_work_pro_rata_and_forfeits_a_late_aggregators_bond() {
        let s = Settlement {
            pool: 1_000,
            aggregator_fee: 100,
            aggregator_bond: 50,
            trainers: vec![t(10, 1, false), t(10, 1, false)],
            outcome: Outcome::Aborted {
                rounds_done: 1,
                rounds_total: 4,
                aggregator_at_fault: true,
            },
        };
        let c = settle(&s).unwrap();
        // Fee 25 earned of 100; proven 900/4 = 225 split 112/112 (+1 remainder); the other
        // 675 of rewards and 75 of unearned fee go back to the owner, with the bond.
        assert_eq!(c.aggregator, 25);
        assert_eq!(c.trainers, vec![122, 122]);
        assert_eq!(c.owner, 675 + 75 + 1 + 50);
        assert_eq!(c.total(), Some(1_070));
    }

    #[test]
    fn cancel_returns_every_deposit() {
        let s = Settlement {
            pool: 5,
            aggregator_fee: 1,
            aggregator_bond: 2,
            trainers: vec![t(3, 0, false), t(4, 9, true)],
            outcome: Outcome::Cancelled,
        };
        assert_eq!(
            settle(&s).unwrap(),
            Claims {
                owner: 5,
                aggregator: 2,
                trainers: vec![3, 4]
            }
        );
    }

    #[test]
    fn bad_inputs_are_refused() {
        let mut s = Settlement {
            pool: 1,
            aggregator_fee: 2,
            aggregator_bond: 0,
            trainers: vec![],
            outcome: Outcome::Finished,
        };
        assert_eq!(settle(&s), Err(RewardError::FeeAbovePool));
        s.aggregator_fee = 0;
        s.outcome = Outcome::Aborted {
            rounds_done: 2,
            rounds_total: 1,
            aggregator_at_fault: false,
        };
        assert_eq!(settle(&s), Err(RewardError::BadRounds));
        s.outcome = Outcome::Finished;
        s.pool = u128::MAX;
        s.trainers = vec![t(1, 0, false)];
        assert_eq!(settle(&s), Err(RewardError::Overflow));
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::Finished),
            Just(Outcome::Cancelled),
            (0u32..=10, 1u32..=10, any::<bool>()).prop_map(|(d, t, f)| Outcome::Aborted {
                rounds_done: d.min(t),
                rounds_total: t,
                aggregator_at_fault: f
            }),
        ]
    }

    proptest! {
        #[test]
        fn split_never_exceeds_and_remainder_is_exact(
            amount in any::<u128>(),
            scores in proptest::collection::vec(prop_oneof![Just(0u32), 0u32..1_000_000], 0..64),
        ) {
            let (p, rem) = split_by_score(amount, &scores);
            let paid: u128 = p.iter().sum();
            prop_assert!(paid <= amount);
            prop_assert_eq!(paid + rem, amount);
            for (pi, si) in p.iter().zip(&scores) {
                if *si == 0 { prop_assert_eq!(*pi, 0); }
            }
            // Remainder is below the number of paid trainers: rounding loses < 1 each.
            prop_assert!(rem < scores.len().max(1) as u128 || scores.iter().all(|&s| s == 0));
        }

        #[test]
        fn settlement_conserves_every_deposit(
            pool in 0u128..1u128 << 100,
            fee_frac in 0u64..=100,
            bond in 0u128..1u128 << 90,
            trainers in proptest::collection::vec((0u128..1u128 << 90, prop_oneof![Just(0u32), 0u32..1_000_000], any::<bool>()), 0..32),
            outcome in outcome(),
        ) {
            let s = Settlement {
                pool,
                aggregator_fee: share(pool, fee_frac, 100),
                aggregator_bond: bond,
                trainers: trainers.iter().map(|&(st, sc, f)| t(st, sc, f)).collect(),
                outcome,
            };
            let c = settle(&s).unwrap();
            let deposits = pool + bond + s.trainers.iter().map(|t| t.stake).sum::<u128>();
            prop_assert_eq!(c.total(), Some(deposits));
        }

        /// The contract's way (running totals at the end, each trainer's claim when it
        /// claims, the remainder to the owner after the last one) pays exactly `settle`.
        #[test]
        fn claims_from_running_totals_are_the_settlement(
            pool in 0u128..1u128 << 100,
            fee_frac in 0u64..=100,
            bond in 0u128..1u128 << 90,
            stake in 0u128..1u128 << 90,
            trainers in proptest::collection::vec((prop_oneof![Just(0u32), 0u32..1_000_000], any::<bool>()), 0..32),
            outcome in outcome(),
        ) {
            let s = Settlement {
                pool,
                aggregator_fee: share(pool, fee_frac, 100),
                aggregator_bond: bond,
                trainers: trainers.iter().map(|&(sc, f)| t(stake, sc, f)).collect(),
                outcome,
            };
            let want = settle(&s).unwrap();
            let e = ended(&Totals {
                pool,
                aggregator_fee: s.aggregator_fee,
                aggregator_bond: bond,
                stake,
                score_total: trainers.iter().map(|&(sc, _)| u64::from(sc)).sum(),
                forfeits: trainers.iter().filter(|&&(_, f)| f).map(|_| stake).sum(),
                outcome,
            }).unwrap();
            let got: Vec<u128> = trainers.iter().map(|&(sc, f)| e.trainer(sc, f)).collect();
            let paid: u128 = trainers.iter().map(|&(sc, _)| e.by_score(sc)).sum();
            prop_assert_eq!(&got, &want.trainers);
            prop_assert_eq!(e.aggregator, want.aggregator);
            prop_assert_eq!(e.owner + e.remainder(paid), want.owner);
        }
    }
}
