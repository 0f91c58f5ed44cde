//! Everyone's view of one project (`merit project status`): the chain's project, trainers,
//! each round's draw, the current round's slots, every finalised round's record and, once the project has
//! ended, the settlement and what is still unclaimed. Read from the chain alone.

use merit_chain::{AccountId32, ChainError, Marketplace};
use merit_protocol::abi::{
    PendingRound, Phase, ProjectView, RoundDraw, RoundRecord, ShapeView, SlotView, TrainerView,
};
use merit_protocol::reward::{self, Claims};
use serde::Serialize;
use std::fmt::Write as _;

/// A project as the chain holds it now.
#[derive(Debug, Clone)]
pub struct ProjectStatus {
    pub view: ProjectView,
    /// The best block the reads ran at.
    pub block: u32,
    pub trainers: Vec<TrainerView>,
    /// The current round's slots (empty once the project ended).
    pub slots: Vec<SlotView>,
    /// Every finalised round's record, round 0 first.
    pub records: Vec<RoundRecord>,
    /// Every drawn round's draw (the finalised ones, then the current one), round 0 first.
    pub draws: Vec<RoundDraw>,
    /// What everyone is owed in total (`None` while the project runs).
    pub claims: Option<Claims>,
    /// What is still unclaimed, per role (`None` while the project runs).
    pub unclaimed: Option<Unclaimed>,
    /// A chunked project's round between submission and finalisation.
    pub pending: Option<PendingRound>,
}

impl ProjectStatus {
    /// Whether trainer `t` loses its stake: the contract's rule (`reward::stake_forfeited`)
    /// with this project's limit on rejected rounds.
    /// The slot round `round` drew trainer `t` for, if it drew it.
    pub fn slot_in(&self, round: usize, t: &TrainerView) -> Option<usize> {
        self.draws
            .get(round)
            .and_then(|d| d.trainers.iter().position(|&i| i == t.slot))
    }

    pub fn stake_forfeited(&self, t: &TrainerView) -> bool {
        reward::stake_forfeited(
            t.missed_reveal,
            t.rejected_rounds,
            self.view.params.max_rejected_rounds,
        )
    }
}

/// What the contract still holds for each role of an ended project.
#[derive(Debug, Clone, Serialize)]
pub struct Unclaimed {
    pub owner: u128,
    pub aggregator: u128,
    pub trainers: Vec<u128>,
}

/// Reads project `id` and everything around it.
pub async fn status(market: &Marketplace, id: u32) -> Result<ProjectStatus, ChainError> {
    let view = market.project(id).await?;
    let block = market.best_block_number().await?;
    let trainers = market.trainers(id).await?;
    let slots = if view.phase.is_terminal() {
        Vec::new()
    } else {
        market.round_slots(id, view.round).await?
    };
    let mut records = Vec::with_capacity(view.round as usize);
    for r in 0..view.round {
        if let Some(rec) = market.round_record(id, r).await? {
            records.push(rec);
        }
    }
    let mut draws = Vec::with_capacity(view.round as usize + 1);
    for r in 0..=view.round.min(view.params.rounds.saturating_sub(1)) {
        match market.round_draw(id, r).await? {
            Some(d) => draws.push(d),
            None => break,
        }
    }
    let settlement = reward::settlement_of(&view, &trainers);
    let claims = settlement.as_ref().and_then(|s| reward::settle(s).ok());
    let unclaimed = if claims.is_some() {
        let owed = |a: [u8; 32]| async move { market.claimable(id, &AccountId32(a)).await };
        let mut t = Vec::with_capacity(trainers.len());
        for tr in &trainers {
            t.push(owed(tr.account).await?);
        }
        Some(Unclaimed {
            owner: owed(view.owner).await?,
            aggregator: owed(view.params.aggregator).await?,
            trainers: t,
        })
    } else {
        None
    };
    let pending = match view.chunked {
        Some(_) => market.pending_round(id).await?,
        None => None,
    };
    Ok(ProjectStatus {
        view,
        block,
        trainers,
        slots,
        records,
        draws,
        claims,
        unclaimed,
        pending,
    })
}

/// How a slot came out in a finalised round, as a table cell: the score, with `✗` for a
/// slot the round did not accept.
fn round_cell(rec: &RoundRecord, slot: usize) -> String {
    match (rec.accepted.get(slot), rec.scores.get(slot)) {
        (Some(true), Some(s)) => s.to_string(),
        (Some(false), _) => "✗".into(),
        _ => "-".into(),
    }
}

pub use crate::report::render::group_thousands as thousands;

fn short(a: &[u8; 32]) -> String {
    let s = AccountId32(*a).to_string();
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

/// The proof shapes as `merit project shapes` prints them.
pub fn render_shapes(shapes: &[ShapeView]) -> String {
    if shapes.is_empty() {
        return "no proof shape is registered yet: `merit project create --chunk C` sets one up\n"
            .into();
    }
    let mut o = format!(
        "{:<5} {:>5} {:>7}  {:<15} keys\n",
        "shape", "slots", "chunk", "registered by"
    );
    for s in shapes {
        let _ = writeln!(
            o,
            "{:<5} {:>5} {:>7}  {:<15} {}",
            s.id,
            s.slots,
            thousands(u128::from(s.chunk)),
            short(&s.registered_by),
            String::from_utf8_lossy(&s.keys_cid)
        );
    }
    o
}

/// The proof shapes as `merit project shapes --json` prints them.
pub fn shapes_json(shapes: &[ShapeView]) -> serde_json::Value {
    serde_json::Value::Array(
        shapes
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "slots": s.slots,
                    "chunk": s.chunk,
                    "keys_cid": String::from_utf8_lossy(&s.keys_cid),
                    "registered_by": AccountId32(s.registered_by).to_string(),
                })
            })
            .collect(),
    )
}

/// The status as the readable table `merit project status` prints.
pub fn render_table(s: &ProjectStatus) -> String {
    let v = &s.view;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "project {} · {:?} · round {} of {} · block #{}",
        v.id, v.phase, v.round, v.params.rounds, s.block
    );
    if !v.phase.is_terminal() {
        let left = v.phase_deadline.saturating_sub(s.block);
        let _ = writeln!(
            o,
            "  phase ends after block #{} ({left} block(s) left)",
            v.phase_deadline
        );
    }
    let _ = writeln!(
        o,
        "  owner       {}  pool {}",
        AccountId32(v.owner),
        thousands(v.pool)
    );
    let _ = writeln!(
        o,
        "  aggregator  {}  fee {}, bond {} ({})",
        AccountId32(v.params.aggregator),
        thousands(v.params.aggregator_fee),
        thousands(v.params.aggregator_bond),
        if v.aggregator_bonded {
            "posted"
        } else {
            "not posted"
        }
    );
    let _ = writeln!(
        o,
        "  trainers    {} joined ({} needed to start), {} slots per round, stake {}",
        v.trainers,
        v.params.min_trainers,
        v.params.slots,
        thousands(v.params.trainer_stake)
    );
    for (r, d) in s.draws.iter().enumerate() {
        let _ = writeln!(
            o,
            "  draw r{r:<4}  trainers {} (seed {}…)",
            d.trainers
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            &hex::encode(d.seed)[..12]
        );
    }
    let _ = writeln!(o, "  model       {}", String::from_utf8_lossy(&v.model_cid));
    if let Some(c) = &v.chunked {
        let _ = writeln!(
            o,
            "  proofs      chunked: shape {}, {} parameters in {} chunks of {}",
            c.shape,
            thousands(u128::from(c.dim)),
            c.dim.div_ceil(c.chunk.max(1)),
            thousands(u128::from(c.chunk))
        );
    }
    if let Some(p) = &s.pending {
        let done = p.verified.iter().filter(|v| **v).count();
        let _ = writeln!(
            o,
            "  round {}     submitted; chunk proofs verified: {done} of {}",
            p.round,
            p.verified.len()
        );
    }
    if s.trainers.is_empty() {
        let _ = writeln!(o, "\n  no trainer has joined yet");
        return o;
    }
    let mut header = format!(
        "\n  {:<4} {:<15} {:<9} {:>6} {:>5} {:>4} {:>7}",
        "#", "trainer", "this rnd", "score", "drawn", "rej", "missed"
    );
    for r in 0..s.records.len() {
        let _ = write!(header, " {:>5}", format!("r{r}"));
    }
    if s.claims.is_some() {
        let _ = write!(
            header,
            " {:>22} {:>6} {:>10}",
            "payout", "stake", "unclaimed"
        );
    }
    let _ = writeln!(o, "{header}");
    for (i, t) in s.trainers.iter().enumerate() {
        let this_round = match s.slots.iter().find(|x| x.trainer == t.slot) {
            Some(x) if x.set_aside => "set aside",
            Some(x) if x.cid.is_some() => "revealed",
            Some(x) if x.commitment.is_some() => "committed",
            Some(_) => "waiting",
            None if v.phase.is_terminal() => "",
            None if v.phase == Phase::Open => "waiting",
            None => "not drawn",
        };
        let mut line = format!(
            "  {:<4} {:<15} {:<9} {:>6} {:>5} {:>4} {:>7}",
            t.slot,
            short(&t.account),
            this_round,
            t.total_score,
            t.rounds_drawn,
            t.rejected_rounds,
            if t.missed_reveal { "yes" } else { "no" }
        );
        for (r, rec) in s.records.iter().enumerate() {
            let cell = match s.slot_in(r, t) {
                Some(slot) => round_cell(rec, slot),
                None => "·".into(),
            };
            let _ = write!(line, " {cell:>5}");
        }
        if let (Some(c), Some(u)) = (&s.claims, &s.unclaimed) {
            let forfeited = s.stake_forfeited(t);
            let _ = write!(
                line,
                " {:>22} {:>6} {:>10}",
                thousands(c.trainers.get(i).copied().unwrap_or_default()),
                if forfeited { "lost" } else { "back" },
                if u.trainers.get(i).copied().unwrap_or_default() == 0 {
                    "claimed".to_string()
                } else {
                    "yes".to_string()
                }
            );
        }
        let _ = writeln!(o, "{line}");
    }
    if let (Some(c), Some(u)) = (&s.claims, &s.unclaimed) {
        let _ = writeln!(
            o,
            "\n  owner refund {} ({}), aggregator {} ({})",
            thousands(c.owner),
            if u.owner == 0 { "claimed" } else { "unclaimed" },
            thousands(c.aggregator),
            if u.aggregator == 0 {
                "claimed"
            } else {
                "unclaimed"
            }
        );
    } else if v.phase == Phase::Open {
        let _ = writeln!(
            o,
            "\n  the owner starts it with `merit project start {}` once enough trainers joined and the bond is in",
            v.id
        );
    }
    o
}

/// The status as `merit project status --json` prints it: amounts as decimal strings
/// (they do not fit a JSON number), accounts as SS58.
pub fn to_json(s: &ProjectStatus) -> serde_json::Value {
    let v = &s.view;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let ss58 = |a: &[u8; 32]| AccountId32(*a).to_string();
    serde_json::json!({
        "id": v.id,
        "block": s.block,
        "phase": format!("{:?}", v.phase),
        "round": v.round,
        "rounds": v.params.rounds,
        "phase_deadline": v.phase_deadline,
        "created_at": v.created_at,
        "owner": ss58(&v.owner),
        "aggregator": ss58(&v.params.aggregator),
        "aggregator_bonded": v.aggregator_bonded,
        "aggregator_fee": v.params.aggregator_fee.to_string(),
        "aggregator_bond": v.params.aggregator_bond.to_string(),
        "pool": v.pool.to_string(),
        "spec_cid": text(&v.params.spec_cid),
        "model_cid": text(&v.model_cid),
        "model_commitment": hex::encode(v.model_commitment.0),
        "proving_key_cid": text(&v.params.proving_key_cid),
        "chunked": v.chunked.map(|c| serde_json::json!({
            "shape": c.shape,
            "chunk": c.chunk,
            "dim": c.dim,
            "chunks": c.dim.div_ceil(c.chunk.max(1)),
        })),
        "pending_chunks": s.pending.as_ref().map(|p| serde_json::json!({
            "round": p.round,
            "verified": p.verified.iter().filter(|v| **v).count(),
            "of": p.verified.len(),
        })),
        "min_trainers": v.params.min_trainers,
        "slots_per_round": v.params.slots,
        "trainer_stake": v.params.trainer_stake.to_string(),
        "committed": v.committed,
        "revealed": v.revealed,
        "draws": s.draws.iter().enumerate().map(|(r, d)| serde_json::json!({
            "round": r,
            "seed": hex::encode(d.seed),
            "trainers": d.trainers,
        })).collect::<Vec<_>>(),
        "trainers": s.trainers.iter().map(|t| serde_json::json!({
            "slot": t.slot,
            "account": ss58(&t.account),
            "rounds_drawn": t.rounds_drawn,
            "total_score": t.total_score,
            "rejected_rounds": t.rejected_rounds,
            "missed_reveal": t.missed_reveal,
        })).collect::<Vec<_>>(),
        "slots": s.slots.iter().map(|x| serde_json::json!({
            "slot": x.slot,
            "trainer": x.trainer,
            "account": ss58(&x.account),
            "commitment": x.commitment.map(|c| hex::encode(c.0)),
            "cid": x.cid.as_deref().map(text),
            "set_aside": x.set_aside,
        })).collect::<Vec<_>>(),
        "rounds_finalised": s.records.iter().enumerate().map(|(r, rec)| serde_json::json!({
            "round": r,
            "finalized_at": rec.finalized_at,
            "model_cid": text(&rec.model_cid),
            "scores": rec.scores,
            "accepted": rec.accepted,
        })).collect::<Vec<_>>(),
        "claims": s.claims.as_ref().map(|c| serde_json::json!({
            "owner": c.owner.to_string(),
            "aggregator": c.aggregator.to_string(),
            "trainers": c.trainers.iter().map(u128::to_string).collect::<Vec<_>>(),
        })),
        "unclaimed": s.unclaimed.as_ref().map(|u| serde_json::json!({
            "owner": u.owner.to_string(),
            "aggregator": u.aggregator.to_string(),
            "trainers": u.trainers.iter().map(u128::to_string).collect::<Vec<_>>(),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_cell_marks_rejections() {
        let rec = RoundRecord {
            model_cid: vec![],
            model_commitment: merit_protocol::commit::Commitment([0; 32]),
            scores: vec![812, 0],
            accepted: vec![true, false],
            public_input: [0; 32],
            finalized_at: 9,
        };
        assert_eq!(round_cell(&rec, 0), "812");
        assert_eq!(round_cell(&rec, 1), "✗");
        assert_eq!(round_cell(&rec, 2), "-");
    }
}
