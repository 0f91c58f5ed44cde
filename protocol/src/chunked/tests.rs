use super::*;
use crate::rule;
use proptest::prelude::*;

fn wide() -> PoseidonConfig<Fr> {
    poseidon::wide::config()
}

/// The decision input from whole vectors is the one from the chunks' summed partials.
#[test]
fn the_decision_input_of_whole_updates_is_that_of_the_summed_chunks() {
    let (dim, chunk) = (37, 8);
    let params = RuleParams::new(3, dim, 0, 1 << 40);
    let u = |s: i16| {
        (0..dim as i16)
            .map(|i| (i * s) % 23 - 11)
            .collect::<Vec<_>>()
    };
    let updates = vec![Some(u(3)), None, Some(u(5))];
    let shape = Chunking::new(dim, chunk).unwrap();
    let zeros = vec![0i16; dim];
    let partials: Vec<Vec<i64>> = (0..shape.count())
        .map(|k| {
            let slices: Vec<Vec<i16>> = updates
                .iter()
                .map(|v| shape.slice(v.as_deref().unwrap_or(&zeros), k))
                .collect();
            partial_gram(&slices.iter().map(Vec::as_slice).collect::<Vec<_>>())
        })
        .collect();
    let (accepted, scores) = ([true, false, true], [400, 0, 600]);
    let want = decision_public_input(&DecisionInputs {
        project: 2,
        round: 1,
        params,
        present: &[true, false, true],
        gram: &sum_grams(3, chunk, &partials).unwrap(),
        accepted: &accepted,
        scores: &scores,
    })
    .unwrap();
    let got = decision_input_of_updates(2, 1, params, &updates, &accepted, &scores);
    assert_eq!(got, Ok(want));
}

#[test]
fn shapes_are_checked_and_chunks_are_zero_padded() {
    assert!(Chunking::new(10, 0).is_err());
    assert!(Chunking::new(0, 4).is_err());
    assert!(Chunking::new(10, MAX_CHUNK + 1).is_err());
    let s = Chunking::new(10, 4).unwrap();
    assert_eq!(s.count(), 3);
    let v: Vec<i16> = (1..=10).collect();
    assert_eq!(s.slice(&v, 0), [1, 2, 3, 4]);
    assert_eq!(s.slice(&v, 2), [9, 10, 0, 0]);
    assert_eq!(
        s.commit_chunks(&wide(), &v[..9]),
        Err(ChunkError::Length {
            expected: 10,
            got: 9
        })
    );
}

#[test]
fn chunk_commitments_name_their_index_and_the_whole_names_every_chunk() {
    let w = wide();
    let v = [3i16, -4, 5, 6];
    assert_ne!(commit_chunk(&w, 0, &v), commit_chunk(&w, 1, &v));
    let s = Chunking::new(8, 4).unwrap();
    let model: Vec<i16> = (0..8).collect();
    let cs = s.commit_chunks(&w, &model).unwrap();
    let whole = commit_model(8, &cs);
    let mut swapped = cs.clone();
    swapped.swap(0, 1);
    assert_ne!(commit_model(8, &swapped), whole);
    assert_ne!(commit_model(8, &cs[..1]), whole);
    let mut twice = cs.clone();
    twice[1] = twice[0];
    assert_ne!(commit_model(8, &twice), whole);
    // A model and an update by the zero account differ.
    assert_ne!(commit_update(&[0; 32], 8, &cs), whole);
}

#[test]
fn partial_grams_sum_to_the_whole_gram_and_bad_ones_are_named() {
    let a: Vec<i16> = (0..10).map(|x| x * 3 - 7).collect();
    let b: Vec<i16> = (0..10).map(|x| 100 - x * x).collect();
    let s = Chunking::new(10, 4).unwrap();
    let partials: Vec<Vec<i64>> = (0..s.count())
        .map(|k| partial_gram(&[&s.slice(&a, k), &s.slice(&b, k)]))
        .collect();
    let total = sum_grams(2, 4, &partials).unwrap();
    assert_eq!(total, partial_gram(&[&a, &b]));
    assert_eq!(
        sum_grams(2, 4, &[vec![1, 2]]),
        Err(ChunkError::GramLength {
            chunk: Some(0),
            got: 2
        })
    );
    assert_eq!(
        sum_grams(2, 4, &[vec![0, 0, 0], vec![(4 << 30) + 1, 0, 0]]),
        Err(ChunkError::GramRange { chunk: 1 })
    );
}

struct Honest {
    trainers: Vec<AccountBytes>,
    stored: Vec<Option<Commitment>>,
    model: Commitment,
    sub: Submission,
    params: RuleParams,
}

/// A round of 4 slots (slot 2 absent), 10 parameters in chunks of 4, and its honest
/// submission (the accept bits and scores are only hashed here).
fn honest() -> Honest {
    let w = wide();
    let shape = Chunking::new(10, 4).unwrap();
    let trainers: Vec<AccountBytes> = vec![[1; 32], [2; 32], [0; 32], [4; 32]];
    let prev: Vec<i16> = (0..10).map(|j| j * 7 - 30).collect();
    let next: Vec<i16> = prev.iter().map(|v| v + 1).collect();
    let updates: Vec<Option<Vec<i16>>> = (0..4)
        .map(|i| (i != 2).then(|| (0..10).map(|j| (i * 10 + j) as i16 - 20).collect()))
        .collect();
    let mut stored = Vec::new();
    let mut sub_updates = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        match u {
            Some(u) => {
                let cs = shape.commit_chunks(&w, u).unwrap();
                stored.push(Some(commit_update(&trainers[i], 10, &cs)));
                sub_updates.push(cs.iter().map(Commitment::from_field).collect());
            }
            None => {
                stored.push(None);
                sub_updates.push(Vec::new());
            }
        }
    }
    let zero = vec![0i16; 10];
    let grams = (0..shape.count())
        .map(|k| {
            let slices: Vec<Vec<i16>> = updates
                .iter()
                .map(|u| shape.slice(u.as_deref().unwrap_or(&zero), k))
                .collect();
            partial_gram(&slices.iter().map(|v| v.as_slice()).collect::<Vec<_>>())
        })
        .collect();
    let commits = |v: &[i16]| -> Vec<Commitment> {
        shape
            .commit_chunks(&w, v)
            .unwrap()
            .iter()
            .map(Commitment::from_field)
            .collect()
    };
    let prev_chunks = commits(&prev);
    let model = commit_model(10, &shape.commit_chunks(&w, &prev).unwrap());
    Honest {
        trainers,
        stored,
        model,
        sub: Submission {
            updates: sub_updates,
            prev_model: prev_chunks,
            new_model: commits(&next),
            grams,
            accepted: vec![true, true, false, false],
            scores: vec![700, 650, 0, 0],
        },
        params: RuleParams::new(4, 10, 1, 1 << 40),
    }
}

fn check(h: &Honest, round: u32, sub: &Submission) -> Result<PublicInputs, ChunkError> {
    public_inputs(
        &Stored {
            project: 3,
            round,
            params: h.params,
            chunk: 4,
            trainers: &h.trainers,
            updates: &h.stored,
            model: h.model,
        },
        sub,
    )
}

#[test]
fn an_honest_submission_gives_one_input_per_chunk_and_the_decision() {
    let h = honest();
    let p = check(&h, 1, &h.sub).unwrap();
    assert_eq!(p.chunks.len(), 3);
    let next: Vec<Fr> = h
        .sub
        .new_model
        .iter()
        .map(|c| c.to_field().unwrap())
        .collect();
    assert_eq!(p.new_model, commit_model(10, &next));
    // Every chunk's input differs (each names its index).
    assert_ne!(p.chunks[0], p.chunks[1]);
    // Another round of the same project: nothing carries over.
    let q = check(&h, 2, &h.sub).unwrap();
    assert!(p.chunks.iter().zip(&q.chunks).all(|(a, b)| a != b));
    assert_ne!(p.decision, q.decision);
}

#[test]
fn reordered_dropped_duplicated_and_foreign_chunks_are_refused_by_name() {
    let h = honest();
    let mut s = h.sub.clone();
    s.updates[0].swap(0, 1);
    assert_eq!(
        check(&h, 1, &s),
        Err(ChunkError::UpdateMismatch { slot: 0 })
    );
    let mut s = h.sub.clone();
    s.updates[1].pop();
    assert_eq!(
        check(&h, 1, &s),
        Err(ChunkError::ChunkCount {
            slot: Some(1),
            expected: 3,
            got: 2
        })
    );
    let mut s = h.sub.clone();
    s.updates[3][2] = s.updates[3][1];
    assert_eq!(
        check(&h, 1, &s),
        Err(ChunkError::UpdateMismatch { slot: 3 })
    );
    let mut s = h.sub.clone();
    s.updates[0][1] = h.sub.updates[1][1];
    assert_eq!(
        check(&h, 1, &s),
        Err(ChunkError::UpdateMismatch { slot: 0 })
    );
    let mut s = h.sub.clone();
    s.updates[2] = h.sub.updates[0].clone();
    assert_eq!(check(&h, 1, &s), Err(ChunkError::AbsentSlot { slot: 2 }));
    let mut s = h.sub.clone();
    s.updates[3].clear();
    assert_eq!(check(&h, 1, &s), Err(ChunkError::AbsentSlot { slot: 3 }));
    // An absent slot's Gram entries must be 0: (0, 2) in the last chunk.
    let mut s = h.sub.clone();
    let last = s.grams.len() - 1;
    s.grams[last][2] = 1;
    assert_eq!(check(&h, 1, &s), Err(ChunkError::AbsentSlot { slot: 2 }));
    let mut s = h.sub.clone();
    s.prev_model.swap(1, 2);
    assert_eq!(check(&h, 1, &s), Err(ChunkError::ModelMismatch));
    let mut s = h.sub.clone();
    s.new_model.pop();
    assert_eq!(
        check(&h, 1, &s),
        Err(ChunkError::ChunkCount {
            slot: None,
            expected: 3,
            got: 2
        })
    );
    let mut s = h.sub.clone();
    s.updates[1][0] = Commitment([0xff; 32]);
    assert_eq!(check(&h, 1, &s), Err(ChunkError::NonCanonical));
}

#[test]
fn a_changed_partial_sum_changes_its_chunk_input_and_the_decision_input() {
    let h = honest();
    let p = check(&h, 1, &h.sub).unwrap();
    let mut s = h.sub.clone();
    s.grams[1][4] += 1;
    let q = check(&h, 1, &s).unwrap();
    assert_eq!(p.chunks[0], q.chunks[0]);
    assert_ne!(p.chunks[1], q.chunks[1]);
    assert_eq!(p.chunks[2], q.chunks[2]);
    assert_ne!(p.decision, q.decision);
    // Moving a sum between chunks keeps the totals (and the decision input) but not
    // the chunks' inputs.
    let mut s = h.sub.clone();
    s.grams[0][4] += 5;
    s.grams[2][4] -= 5;
    let q = check(&h, 1, &s).unwrap();
    assert_eq!(p.decision, q.decision);
    assert_ne!(p.chunks[0], q.chunks[0]);
    assert_ne!(p.chunks[2], q.chunks[2]);
    let mut s = h.sub.clone();
    s.grams[2][0] = (4 << 30) + 1;
    assert_eq!(check(&h, 1, &s), Err(ChunkError::GramRange { chunk: 2 }));
    let mut s = h.sub.clone();
    s.grams.push(vec![0; 10]);
    assert!(matches!(
        check(&h, 1, &s),
        Err(ChunkError::ChunkCount { .. })
    ));
}

proptest! {
    /// Deciding from the summed partial Gram matrices and averaging chunk by chunk is
    /// the rule itself, on random rounds with absent slots and outliers.
    #[test]
    fn chunked_rule_equals_the_rule(
        seed in any::<u64>(),
        dim in 1usize..40,
        chunk in 1usize..12,
        absent in proptest::collection::vec(any::<bool>(), 6),
    ) {
        let n = 6;
        let mut x = seed | 1;
        let mut next = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
        let prev: Vec<i16> = (0..dim).map(|_| (next() % 200) as i16 - 100).collect();
        let updates: Vec<Option<Vec<i16>>> = (0..n).map(|i| {
            if absent[i] { return None; }
            let scale = if i == 5 { 60 } else { 6 };
            Some((0..dim).map(|j| ((next() % (2 * scale + 1)) as i64 - scale as i64
                + if i < 4 { 20 - (j as i64 % 7) } else { 0 }) as i16).collect())
        }).collect();
        let params = RuleParams::new(n, dim, 1, u64::MAX / 4);
        let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
        let whole = rule::run(&params, &prev, &refs).unwrap();

        let s = Chunking::new(dim, chunk).unwrap();
        let zero = vec![0i16; dim];
        let vecs: Vec<&[i16]> = updates.iter().map(|u| u.as_deref().unwrap_or(&zero)).collect();
        let mut partials = Vec::new();
        for k in 0..s.count() {
            let slices: Vec<Vec<i16>> = vecs.iter().map(|v| s.slice(v, k)).collect();
            let refs: Vec<&[i16]> = slices.iter().map(|v| v.as_slice()).collect();
            partials.push(partial_gram(&refs));
        }
        let total = sum_grams(n, chunk, &partials).unwrap();
        let present: Vec<bool> = updates.iter().map(Option::is_some).collect();
        let d = rule::decide(&params, &present, &gram_matrix(&total, n)).unwrap();
        prop_assert_eq!(&d.accepted, &whole.decision.accepted);
        prop_assert_eq!(&d.scores, &whole.decision.scores);
        let mut new_model = Vec::new();
        for k in 0..s.count() {
            let slices: Vec<Vec<i16>> = vecs.iter().map(|v| s.slice(v, k)).collect();
            let refs: Vec<&[i16]> = slices.iter().map(|v| v.as_slice()).collect();
            let m = rule::mean_step(&s.slice(&prev, k), &refs, &d.accepted, k * chunk).unwrap();
            new_model.extend(m.new_model);
        }
        new_model.truncate(dim);
        prop_assert_eq!(new_model, whole.new_model);
    }
}
