use super::*;

/// Seed number `s`: its LE bytes, the rest zero.
fn seed(s: u64) -> Seed {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&s.to_le_bytes());
    b
}

/// The draw's loop over any stream of 64-bit values, with any reduction: the tests run it
/// on a cheap generator with a biased reduction, to see that they catch the bias.
fn draw_from(
    values: impl Iterator<Item = u64>,
    slots: u32,
    reduce: impl Fn(u64) -> Option<u32>,
) -> Vec<u32> {
    let mut out = Vec::new();
    for x in values {
        if out.len() == slots as usize {
            break;
        }
        if let Some(t) = reduce(x) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// SplitMix64 from `state`: uniform 64-bit values, cheap (unlike Poseidon in a debug build).
fn splitmix(mut state: u64) -> impl Iterator<Item = u64> {
    core::iter::from_fn(move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Some(z ^ (z >> 31))
    })
}

/// Pearson's χ² of `counts` against `expected` each.
fn chi_square(counts: &[u64], expected: f64) -> f64 {
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// How often each trainer is drawn (anywhere) and drawn first, over `seeds` draws.
fn tally(joined: u32, draws: impl Iterator<Item = Vec<u32>>) -> (Vec<u64>, Vec<u64>) {
    let (mut any, mut first) = (vec![0u64; joined as usize], vec![0u64; joined as usize]);
    for d in draws {
        for &t in &d {
            any[t as usize] += 1;
        }
        first[d[0] as usize] += 1;
    }
    (any, first)
}

#[test]
fn draws_are_distinct_in_range_and_deterministic() {
    for (joined, slots) in [(2, 1), (10, 3), (65, 64), (1000, 64), (3_000_000, 10)] {
        for s in 0..5 {
            let d = draw(&seed(s), joined, slots).unwrap();
            assert_eq!(d.len(), slots as usize, "J = {joined}, N = {slots}");
            assert!(d.iter().all(|&t| t < joined));
            let mut sorted = d.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), d.len(), "repeats in {d:?}");
            assert_eq!(draw(&seed(s), joined, slots).unwrap(), d, "deterministic");
        }
    }
    // Another seed, another draw; another J, another draw.
    let a = draw(&seed(1), 1000, 8).unwrap();
    assert_ne!(a, draw(&seed(2), 1000, 8).unwrap());
    assert_ne!(a, draw(&seed(1), 1001, 8).unwrap());
}

#[test]
fn fewer_slots_are_a_prefix_of_more() {
    let ten = draw(&seed(7), 500, 10).unwrap();
    for n in 0..10 {
        assert_eq!(draw(&seed(7), 500, n).unwrap(), ten[..n as usize]);
    }
}

#[test]
fn everybody_is_drawn_in_join_order_when_j_is_at_most_n() {
    assert_eq!(
        draw_counted(&seed(3), 5, 5).unwrap(),
        (vec![0, 1, 2, 3, 4], 0)
    );
    assert_eq!(draw_counted(&seed(3), 3, 10).unwrap(), (vec![0, 1, 2], 0));
    assert_eq!(
        draw(&seed(3), 64, 64).unwrap(),
        (0..64).collect::<Vec<u32>>()
    );
}

#[test]
fn no_slots_draw_nobody() {
    assert_eq!(draw_counted(&seed(1), 1_000_000, 0).unwrap(), (vec![], 0));
}

#[test]
fn no_trainers_draw_nobody() {
    assert_eq!(draw_counted(&seed(1), 0, 10).unwrap(), (vec![], 0));
    assert_eq!(draw(&seed(1), 0, 0).unwrap(), Vec::<u32>::new());
    assert_eq!(candidate(&seed(1), 0, 0), None);
}

#[test]
fn more_slots_than_a_round_has_are_refused() {
    let e = draw(&seed(1), 1000, MAX_SLOTS + 1).unwrap_err();
    assert_eq!(
        e,
        DrawError::TooManySlots {
            slots: MAX_SLOTS + 1,
            max: MAX_SLOTS
        }
    );
    assert_eq!(e.to_string(), "a draw of 65 slots: a round has at most 64");
    // Refused even when everybody would be drawn: the slot count itself is out of range.
    assert!(draw(&seed(1), 3, MAX_SLOTS + 1).is_err());
}

#[test]
fn millions_of_trainers_cost_about_n_hashes() {
    for s in 0..3 {
        let (d, tries) = draw_counted(&seed(s), 5_000_000, 64).unwrap();
        assert_eq!(d.len(), 64);
        // A repeat among 64 of 5 million has probability 4·10^-4 per draw.
        assert!(tries <= 66, "{tries} candidates");
    }
    // The worst case, 64 of 65: about 245 candidates on average, far below the cap.
    for s in 0..3 {
        let (_, tries) = draw_counted(&seed(s), 65, 64).unwrap();
        assert!((64..1000).contains(&tries), "{tries} candidates");
    }
}

#[test]
fn candidates_are_the_draws_steps() {
    // The draw is the candidates in order, rejections and repeats skipped.
    let (joined, slots) = (6, 5);
    let mut want = Vec::new();
    let mut i = 0;
    while want.len() < slots {
        if let Some(t) = candidate(&seed(9), joined, i) {
            if !want.contains(&t) {
                want.push(t);
            }
        }
        i += 1;
    }
    assert_eq!(
        draw_counted(&seed(9), joined, slots as u32).unwrap(),
        (want, i)
    );
}

#[test]
fn the_rejection_rule_gives_every_trainer_as_many_values() {
    // Exhaustively at 8 bits: every J has the same number of accepted values per trainer,
    // and fewer than J values are rejected.
    for joined in 1..=256u32 {
        let mut counts = vec![0u32; joined as usize];
        let mut rejected = 0;
        for x in 0..256u64 {
            match accept_bits(x, joined, 8) {
                Some(t) => counts[t as usize] += 1,
                None => rejected += 1,
            }
        }
        assert!(counts.iter().all(|&c| c == 256 / joined), "J = {joined}");
        assert!(rejected < joined && rejected == 256 % joined);
    }
    // At 64 bits, at the edges: 2^64 mod 3 = 1, so only 2^64 − 1 is rejected.
    assert_eq!(accept(u64::MAX, 3), None);
    assert_eq!(accept(u64::MAX - 1, 3), Some(((u64::MAX - 1) % 3) as u32));
    // A power of two divides 2^64: nothing is rejected.
    assert_eq!(accept(u64::MAX, 1 << 20), Some((1 << 20) - 1));
    assert_eq!(accept(u64::MAX, 1), Some(0));
    // 2^64 mod 1_000_003, computed independently: 2^64 = 18446744073709551616.
    let j = 1_000_003u32;
    let rem = (18_446_744_073_709_551_616u128 % 1_000_003) as u64;
    // x is rejected from 2^64 − rem = u64::MAX − rem + 1 on.
    assert_eq!(accept(u64::MAX - rem + 1, j), None);
    assert_eq!(
        accept(u64::MAX - rem, j),
        Some(((u64::MAX - rem) % 1_000_003) as u32)
    );
}

#[test]
fn every_trainer_is_drawn_about_n_over_j_of_the_time() {
    // 3 of 10 trainers over 1000 seeds: each drawn 300 times and first 100 times in
    // expectation. χ² with 9 degrees of freedom has mean 9 and exceeds 30 with
    // probability 4·10^-4 (inclusion counts spread less than that).
    const SEEDS: u64 = 1000;
    let (joined, slots) = (10u32, 3u32);
    let limit = 30.0;
    let expected = (
        (SEEDS * u64::from(slots)) as f64 / f64::from(joined),
        SEEDS as f64 / f64::from(joined),
    );
    let chi = |(any, first): (Vec<u64>, Vec<u64>)| {
        (chi_square(&any, expected.0), chi_square(&first, expected.1))
    };
    let drawn = chi(tally(
        joined,
        (0..SEEDS).map(|s| draw(&seed(s), joined, slots).unwrap()),
    ));
    assert!(drawn.0 < limit && drawn.1 < limit, "χ² {drawn:?}");

    // The same test catches modulo bias. Reducing 4-bit values mod 10 favours trainers
    // 0 to 5 (2 values of 16 each, against 1): it fails; rejecting as the draw does, at
    // the same 4 bits, passes.
    let narrow = |reduce: fn(u64) -> Option<u32>| {
        chi(tally(
            joined,
            (0..SEEDS).map(|s| draw_from(splitmix(s), slots, reduce)),
        ))
    };
    let biased = narrow(|x| Some(((x & 15) % 10) as u32));
    assert!(
        biased.0 > limit && biased.1 > limit,
        "the bias passed: χ² {biased:?}"
    );
    let fair = narrow(|x| accept_bits(x & 15, 10, 4));
    assert!(fair.0 < limit && fair.1 < limit, "χ² {fair:?}");
}

#[test]
fn round_seeds_depend_on_every_input() {
    let prev = seed(42);
    let base = round_seed(1, 2, &prev, b"entropy");
    assert_eq!(base, round_seed(1, 2, &prev, b"entropy"), "deterministic");
    let others = [
        round_seed(2, 2, &prev, b"entropy"),
        round_seed(1, 3, &prev, b"entropy"),
        round_seed(1, 2, &seed(43), b"entropy"),
        round_seed(1, 2, &prev, b"entropz"),
        round_seed(1, 2, &prev, b""),
        round_seed(1, 2, &prev, b"entropy\0"),
    ];
    for (k, o) in others.iter().enumerate() {
        assert_ne!(*o, base, "input {k} ignored");
    }
    // The length frames the entropy: a trailing zero byte, or a zero piece, is not lost.
    assert_ne!(round_seed(0, 0, &prev, &[]), round_seed(0, 0, &prev, &[0]));
    assert_ne!(
        round_seed(0, 0, &prev, &[0; 16]),
        round_seed(0, 0, &prev, &[0; 32])
    );
    // A seed is a canonical field element's encoding, and seeds chain.
    assert!(poseidon::from_bytes(&base).is_some());
    let next = round_seed(1, 3, &base, &[]);
    assert_ne!(
        draw(&base, 1000, 10).unwrap(),
        draw(&next, 1000, 10).unwrap()
    );
}
