//! Throughput of the hot protocol paths: `cargo bench -p merit-protocol`.
//! Figures are values per second (criterion's "elem/s").

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use merit_protocol::commit::Committer;
use merit_protocol::{fixed, pack};

fn values(d: usize) -> Vec<i16> {
    (0..d).map(|i| (i as i16).wrapping_mul(7919)).collect()
}

fn commitments(c: &mut Criterion) {
    let committer = Committer::new();
    let mut g = c.benchmark_group("commit_update");
    g.sample_size(10);
    for d in [8_192usize, 1_048_576] {
        let v = values(d);
        g.throughput(Throughput::Elements(d as u64));
        g.bench_with_input(BenchmarkId::from_parameter(d), &v, |b, v| {
            b.iter(|| committer.commit_update(black_box(&[7; 32]), black_box(v)))
        });
    }
    g.finish();
}

fn quantisation(c: &mut Criterion) {
    let mut g = c.benchmark_group("quantise_all");
    let d = 1_048_576usize;
    let xs: Vec<f32> = (0..d).map(|i| (i as f32 * 0.001).sin()).collect();
    g.throughput(Throughput::Elements(d as u64));
    g.bench_function(BenchmarkId::from_parameter(d), |b| {
        b.iter(|| fixed::quantise_all(black_box(&xs), 12).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("pack");
    let v = values(d);
    g.throughput(Throughput::Elements(d as u64));
    g.bench_function(BenchmarkId::from_parameter(d), |b| {
        b.iter(|| pack::pack(black_box(&v)))
    });
    g.finish();
}

criterion_group!(benches, commitments, quantisation);
criterion_main!(benches);
