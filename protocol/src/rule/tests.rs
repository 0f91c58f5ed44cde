use super::*;
use proptest::prelude::*;

fn params(slots: usize, dim: usize, f: usize, b2: u64) -> RuleParams {
    RuleParams::new(slots, dim, f, b2)
}

#[test]
fn hand_computed_round() {
    // 6 slots, D = 2, f = 1, ρ² = 36: one absent, one too long for the band.
    let p = params(6, 2, 1, 1_000_000);
    let g = [10i16, -10];
    let u0 = [3i16, 0]; // ‖u‖² 9
    let u1 = [3i16, 1]; // 10
    let u2 = [2i16, 2]; // 8
    let u4 = [-3i16, 0]; // 9, the opposite direction
    let u5 = [30i16, 40]; // 2500: more than 9 × the median
    let ups = [
        Some(&u0[..]),
        Some(&u1[..]),
        Some(&u2[..]),
        None,
        Some(&u4[..]),
        Some(&u5[..]),
    ];
    let o = run(&p, &g, &ups).unwrap();
    assert_eq!(o.decision.norms, [9, 10, 8, 0, 9, 2500]);
    assert_eq!(o.decision.in_bound, [true, true, true, false, true, true]);
    // In-bound norms sorted: 8 9 9 10 2500; p = 5, the 3rd smallest.
    assert_eq!(o.decision.median_norm, 9);
    assert_eq!(o.decision.eligible, [true, true, true, false, true, false]);
    // cos(u0, u1) = 9/√90 = 0.94868 → 948; cos(u0, u2) = 6/√72 = 0.70710 → 707;
    // cos(u1, u2) = 8/√80 = 0.89442 → 894; u4 = −u0.
    assert_eq!(o.decision.cosines[0][1], 948);
    assert_eq!(o.decision.cosines[0][2], 707);
    assert_eq!(o.decision.cosines[1][2], 894);
    assert_eq!(o.decision.cosines[0][4], -1000);
    assert_eq!(o.decision.cosines[1][4], -948);
    assert_eq!(o.decision.cosines[0][3], 0, "against an absent slot");
    assert_eq!(o.decision.duplicate, [false; 6]);
    assert_eq!(o.decision.byzantine_left, 1);
    // n = 4 candidates, f' = 1: k = 1 nearest, keep 3.
    assert!(o.decision.krum_ran);
    assert_eq!(o.decision.krum[0], 1000 - 948);
    assert_eq!(o.decision.krum[1], 1000 - 948);
    assert_eq!(o.decision.krum[2], 1000 - 894);
    assert_eq!(
        o.decision.krum[4],
        1000 + 707,
        "nearest to u4 is u2 at −707"
    );
    assert_eq!(o.decision.thresholds[2], 106);
    assert!(o.decision.neighbours[2][1] && !o.decision.neighbours[2][0]);
    assert_eq!(o.decision.accepted, [true, true, true, false, false, false]);
    // S = (8, 3), ⌊8/3⌋ = 2 r 2, ⌊3/3⌋ = 1 r 0.
    assert_eq!(o.sum, [8, 3]);
    assert_eq!(o.mean, [2, 1]);
    assert_eq!(o.remainders, [2, 0]);
    assert_eq!(o.new_model, [12, -9]);
    // Leave-one-out: u0 against (5, 3): 15/(3·√34) = 0.85749 → 857.
    assert_eq!(o.decision.others_dots[0], 15);
    assert_eq!(o.decision.others_norms[0], 34);
    assert_eq!(o.decision.scores[0], 857);
    // u1 against (5, 2): 17/(√10·√29) = 0.99827 → 998.
    assert_eq!(o.decision.scores[1], 998);
    // u2 against (6, 1): 14/(√8·√37) = 0.81373 → 813.
    assert_eq!(o.decision.scores[2], 813);
    assert_eq!(o.decision.scores[4], 0);
    assert_eq!(o.decision.scores[5], 0);
}

#[test]
fn the_band_keeps_lengths_near_the_median() {
    // Five similar directions at lengths 1, 2, 2, 2, 7 (squared 1, 4, 4, 4, 49); ρ = 3.
    let p = RuleParams {
        band_sq_milli: 9_000,
        ..params(5, 1, 0, u64::MAX)
    };
    let ups = [[1i16], [2], [2], [2], [7]];
    let refs: Vec<Option<&[i16]>> = ups.iter().map(|u| Some(&u[..])).collect();
    let o = run(&p, &[0], &refs).unwrap();
    assert_eq!(o.decision.median_norm, 4);
    // 1000·1 ≥ ... 1000·4 ≤ 9000·1 keeps length 1; 1000·49 > 9000·4 drops 7.
    assert_eq!(o.decision.eligible, [true, true, true, true, false]);
    assert!(within_band(36, 4, 9_000) && !within_band(37, 4, 9_000));
    assert_eq!(lower_median(&[5, 1, 3, 2]), 2);
    assert_eq!(lower_median(&[]), 0);
}

#[test]
fn duplicates_are_dropped_and_use_up_the_budget() {
    // Two identical updates (sybils) among four different ones; f = 2, τ = 0.95.
    let p = RuleParams {
        duplicate_milli: 950,
        ..params(6, 3, 2, u64::MAX)
    };
    let ups = [
        [10i16, 1, 0],
        [1, 10, 0],
        [0, 1, 10],
        [7, 7, 1],
        [5, 5, 5],
        [5, 5, 5],
    ];
    let refs: Vec<Option<&[i16]>> = ups.iter().map(|u| Some(&u[..])).collect();
    let o = run(&p, &[0; 3], &refs).unwrap();
    assert_eq!(
        o.decision.duplicate,
        [false, false, false, false, true, true]
    );
    assert_eq!(o.decision.byzantine_left, 0);
    assert_eq!(
        o.decision.candidates,
        [true, true, true, true, false, false]
    );
    // n = 4, f' = 0: everyone left is accepted.
    assert_eq!(o.decision.accepted, [true, true, true, true, false, false]);
    // With the filter off, Krum keeps the pair (distance 0 to each other).
    let off = RuleParams {
        duplicate_milli: DUPLICATES_OFF,
        ..p
    };
    let o = run(&off, &[0; 3], &refs).unwrap();
    assert_eq!(o.decision.duplicate, [false; 6]);
    assert!(o.decision.accepted[4] && o.decision.accepted[5]);
}

#[test]
fn negative_means_round_toward_minus_infinity() {
    let p = params(3, 1, 0, u64::MAX);
    let ups = [Some(&[-1i16][..]), Some(&[-2][..]), Some(&[-1][..])];
    let o = run(&p, &[0], &ups).unwrap();
    // n = 3 ≥ f + 3: keep 3. S = −4, ⌊−4/3⌋ = −2, r = 2.
    assert_eq!(o.decision.accepted, [true, true, true]);
    assert_eq!(o.mean, [-2]);
    assert_eq!(o.remainders, [2]);
    assert_eq!(floor_div(-7, 2), (-4, 1));
    assert_eq!(floor_div(7, 2), (3, 1));
    // The same direction everywhere: with a duplicate filter, all three are dropped.
    let strict = RuleParams {
        duplicate_milli: 990,
        ..p
    };
    assert_eq!(
        run(&strict, &[0], &ups).unwrap().decision.accepted,
        [false; 3]
    );
}

#[test]
fn too_few_candidates_accept_nothing() {
    // f = 1 needs four candidates; the ceiling and a zero update leave three.
    let p = params(5, 2, 1, 100);
    let ups = [
        Some(&[1i16, 3][..]),
        Some(&[3, 1][..]),
        Some(&[100, 100][..]),
        Some(&[0, 0][..]),
        Some(&[2, -1][..]),
    ];
    let o = run(&p, &[5, 5], &ups).unwrap();
    assert_eq!(o.decision.in_bound, [true, true, false, false, true]);
    assert!(!o.decision.krum_ran);
    assert_eq!(o.decision.accepted, [false; 5]);
    assert_eq!(o.new_model, [5, 5]);
    assert_eq!(o.decision.scores, [0; 5]);
    assert_eq!(o.decision.krum, [0; 5]);
}

#[test]
fn cosines_and_scores_without_square_roots() {
    assert_eq!(cosine_score(0, 0, 10), 0);
    assert_eq!(cosine_score(5, 10, 0), 0);
    assert_eq!(cosine_score(-5, 10, 10), 0);
    assert_eq!(cosine_score(10, 10, 10), 1000);
    assert_eq!(signed_cosine(-10, 10, 10), -1000);
    assert_eq!(signed_cosine(0, 0, 0), 0);
    // −0.5 truncates to −500, 0.7071 to 707.
    assert_eq!(signed_cosine(-1, 2, 2), -500);
    assert_eq!(signed_cosine(1, 1, 2), 707);
}

#[test]
fn ties_are_broken_by_slot_order() {
    // Four directions at 90° steps plus a fifth between two of them; f = 1, keep 4.
    let p = params(5, 2, 1, u64::MAX);
    let ups = [[10i16, 0], [0, 10], [-10, 0], [0, -10], [7, 7]];
    let refs: Vec<Option<&[i16]>> = ups.iter().map(|u| Some(&u[..])).collect();
    let o = run(&p, &[0, 0], &refs).unwrap();
    // k = 2: slots 0 and 1 have 707 + 0, slots 2 and 3 have only 0 and 0 → 2000;
    // slot 4 has 707 + 707.
    assert_eq!(o.decision.krum, [1293, 1293, 2000, 2000, 586]);
    assert_eq!(o.decision.accepted, [true, true, true, false, true]);
}

#[test]
fn overflow_is_refused_and_bad_input_is_typed() {
    let p = RuleParams {
        duplicate_milli: DUPLICATES_OFF,
        ..params(3, 1, 0, u64::MAX)
    };
    let big = [30_000i16];
    assert_eq!(
        run(&p, &[10_000], &[Some(&big[..]); 3]),
        Err(RuleError::ModelOverflow { index: 0 })
    );
    assert_eq!(
        run(&p, &[0], &[Some(&big[..]); 2]),
        Err(RuleError::SlotCount {
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        run(&p, &[0, 0], &[None; 3]),
        Err(RuleError::ModelLength {
            expected: 1,
            got: 2
        })
    );
    assert_eq!(
        run(&p, &[0], &[None, Some(&[1, 2][..]), None]),
        Err(RuleError::UpdateLength {
            slot: 1,
            expected: 1,
            got: 2
        })
    );
    for bad in [
        params(0, 1, 0, 0),
        params(2, 1, 2, 0),
        RuleParams {
            band_sq_milli: 999,
            ..params(2, 1, 0, 0)
        },
        RuleParams {
            duplicate_milli: 1002,
            ..params(2, 1, 0, 0)
        },
    ] {
        assert!(matches!(
            run(&bad, &[0], &vec![None; bad.slots]),
            Err(RuleError::BadParams(_))
        ));
    }
}

#[test]
#[cfg(feature = "std")]
fn parameters_from_real_values() {
    // 4.0 at scale 2^-8: 1024 units, squared.
    assert_eq!(RuleParams::norm_bound_sq_from_real(4.0, 8), 1 << 20);
    assert_eq!(RuleParams::norm_bound_sq_from_real(-1.0, 8), 0);
    assert_eq!(RuleParams::norm_bound_sq_from_real(f32::NAN, 8), 0);
    assert_eq!(RuleParams::norm_bound_sq_from_real(f32::MAX, 15), u64::MAX);
    assert_eq!(RuleParams::band_sq_milli_from_real(3.0), 9_000);
    assert_eq!(RuleParams::band_sq_milli_from_real(0.5), 1_000);
    assert_eq!(RuleParams::band_sq_milli_from_real(1e9), MAX_BAND_SQ_MILLI);
    assert_eq!(RuleParams::duplicate_milli_from_real(0.99), 990);
    assert_eq!(RuleParams::duplicate_milli_from_real(1.5), DUPLICATES_OFF);
    assert_eq!(
        RuleParams::duplicate_milli_from_real(f32::NAN),
        DUPLICATES_OFF
    );
}

#[test]
fn extreme_values_stay_exact() {
    let p = RuleParams {
        duplicate_milli: DUPLICATES_OFF,
        ..params(3, 4, 0, u64::MAX)
    };
    let a = [i16::MIN; 4];
    let o = run(&p, &[i16::MAX; 4], &[Some(&a[..]); 3]).unwrap();
    assert_eq!(o.decision.norms[0], 4 << 30);
    assert_eq!(o.mean, [i16::MIN; 4]);
    assert_eq!(o.new_model, [-1; 4]);
    assert_eq!(o.decision.scores, [1000; 3]);
}

/// Floating-point cosine (checked away from integer boundaries).
fn float_cos(a: &[i16], b: &[i64]) -> f64 {
    let d: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * y as f64)
        .sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum::<f64>().sqrt();
    1000.0 * d / (na * nb)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn invariants_hold(
        n in 1usize..8, f in 0usize..3, dim in 1usize..12,
        seed in proptest::collection::vec(any::<i16>(), 8 * 12),
        prev in proptest::collection::vec(-1000i16..1000, 12),
        absent in proptest::collection::vec(any::<bool>(), 8),
        scale in 0u32..15,
        b2 in any::<u64>(),
        band in 1000u32..50_000,
        tau in 900u32..1002,
    ) {
        prop_assume!(f < n);
        let p = RuleParams { band_sq_milli: band, duplicate_milli: tau, ..params(n, dim, f, b2 >> (scale + 10)) };
        let vecs: Vec<Vec<i16>> = (0..n).map(|i| seed[i * 12..i * 12 + dim].iter().map(|&v| v >> scale).collect()).collect();
        let ups: Vec<Option<&[i16]>> = (0..n).map(|i| (!absent[i]).then(|| &vecs[i][..])).collect();
        let o = run(&p, &prev[..dim], &ups).unwrap();
        // The median is an in-bound norm with ⌈p/2⌉ at or below it.
        let bounded: Vec<u64> = (0..n).filter(|&i| o.decision.in_bound[i]).map(|i| o.decision.norms[i]).collect();
        if bounded.is_empty() {
            prop_assert_eq!(o.decision.median_norm, 0);
        } else {
            prop_assert!(bounded.contains(&o.decision.median_norm));
            prop_assert!(bounded.iter().filter(|&&x| x <= o.decision.median_norm).count() >= bounded.len().div_ceil(2));
        }
        let d = o.decision.duplicate.iter().filter(|&&x| x).count();
        prop_assert_eq!(o.decision.byzantine_left, f.saturating_sub(d));
        let cands = o.decision.candidates.iter().filter(|&&c| c).count();
        if cands >= o.decision.byzantine_left + 3 {
            prop_assert_eq!(o.decision.accepted_count, cands - o.decision.byzantine_left);
        } else {
            prop_assert_eq!(o.decision.accepted_count, 0);
        }
        for i in 0..n {
            prop_assert!(!o.decision.accepted[i] || o.decision.candidates[i]);
            prop_assert!(!o.decision.candidates[i] || (o.decision.eligible[i] && !o.decision.duplicate[i]));
            prop_assert!(o.decision.scores[i] <= 1000);
            prop_assert!(o.decision.accepted[i] || o.decision.scores[i] == 0);
            for k in 0..n {
                prop_assert_eq!(o.decision.cosines[i][k], o.decision.cosines[k][i]);
                prop_assert!((-1000..=1000).contains(&o.decision.cosines[i][k]));
                if o.decision.norms[i] > 0 && o.decision.norms[k] > 0 {
                    let wide: Vec<i64> = vecs[k].iter().map(|&v| i64::from(v)).collect();
                    let fl = float_cos(&vecs[i], &wide);
                    prop_assert!((f64::from(o.decision.cosines[i][k]) - fl.trunc()).abs() <= 1.0, "{} vs {}", o.decision.cosines[i][k], fl);
                }
                // Rejected candidates never beat an accepted one.
                if o.decision.accepted[i] && o.decision.candidates[k] && !o.decision.accepted[k] {
                    prop_assert!(o.decision.krum[i] < o.decision.krum[k] || (o.decision.krum[i] == o.decision.krum[k] && i < k));
                }
            }
            if o.decision.accepted[i] && o.decision.others_dots[i] > 0 {
                let others: Vec<i64> = o.sum.iter().zip(&vecs[i]).map(|(&s, &v)| s - i64::from(v)).collect();
                let fl = float_cos(&vecs[i], &others);
                prop_assert!((f64::from(o.decision.scores[i]) - fl.floor()).abs() <= 1.0, "{} vs {}", o.decision.scores[i], fl);
            }
        }
        let cnt = o.decision.accepted_count.max(1) as i64;
        for j in 0..dim {
            prop_assert_eq!(o.sum[j], cnt * i64::from(o.mean[j]) + i64::from(o.remainders[j]));
            prop_assert!(i64::from(o.remainders[j]) < cnt);
            prop_assert_eq!(i32::from(o.new_model[j]), i32::from(prev[j]) + i32::from(o.mean[j]));
        }
    }

    #[test]
    fn wide_mul_is_exact(a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), d in any::<u64>()) {
        let x = (u128::from(a) << 64) | u128::from(b);
        let y = (u128::from(c) << 64) | u128::from(d);
        let (hi, lo) = wide_mul(x, y);
        prop_assert_eq!(lo, x.wrapping_mul(y));
        let top = u128::from(a) * u128::from(c);
        prop_assert!(hi >= top);
    }

    #[test]
    fn score_is_the_unique_floor(dot in 1i64..1 << 40, nu in 1u64..1 << 40, ns in 1u64..1 << 40) {
        prop_assume!((dot as u128) * (dot as u128) <= u128::from(nu) * u128::from(ns));
        let s = cosine_score(dot, nu, ns);
        let x = u128::from(nu) * u128::from(ns);
        let y = wide_mul((dot as u128) * (dot as u128), 1_000_000);
        prop_assert!(wide_mul(u128::from(s) * u128::from(s), x) <= y);
        prop_assert!(s == 1000 || wide_mul(u128::from(s + 1) * u128::from(s + 1), x) > y);
    }
}
