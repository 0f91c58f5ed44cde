//! A time-boxed fuzz run of the Model/Update parser (no panic, no over-allocation, and
//! every accepted file re-encodes to itself). Ignored by default; run it for a while with
//! `MERIT_FUZZ_SECS=180 cargo test --release -p merit-protocol --test fuzz_format -- --ignored --nocapture`.

use merit_protocol::format::{Kind, ModelFile, TensorShape};
use std::time::{Duration, Instant};

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seed_file(rng: &mut XorShift) -> Vec<u8> {
    let dims = vec![1 + rng.below(5) as u32, 1 + rng.below(5) as u32];
    let n = (dims[0] * dims[1]) as usize;
    ModelFile {
        kind: if rng.below(2) == 0 {
            Kind::Model
        } else {
            Kind::Update
        },
        scale_bits: rng.below(16) as u8,
        tensors: vec![TensorShape {
            name: "w".into(),
            dims,
        }],
        values: (0..n).map(|_| rng.next() as i16).collect(),
        floats: (rng.below(2) == 0).then(|| (0..n).map(|i| i as f32).collect()),
    }
    .encode()
}

#[test]
#[ignore]
fn parser_survives_a_timed_fuzz_run() {
    let secs: u64 = std::env::var("MERIT_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let (mut runs, mut accepted) = (0u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..1_000 {
            let mut bytes = if rng.below(4) == 0 {
                (0..rng.below(256)).map(|_| rng.next() as u8).collect()
            } else {
                seed_file(&mut rng)
            };
            for _ in 0..1 + rng.below(4) {
                match rng.below(4) {
                    0 if !bytes.is_empty() => {
                        let i = rng.below(bytes.len());
                        bytes[i] = rng.next() as u8;
                    }
                    1 if !bytes.is_empty() => bytes.truncate(rng.below(bytes.len())),
                    2 => bytes.push(rng.next() as u8),
                    _ if bytes.len() >= 8 => {
                        // Plant an extreme length anywhere.
                        let i = rng.below(bytes.len() - 7);
                        bytes[i..i + 8].copy_from_slice(&rng.next().to_le_bytes());
                    }
                    _ => {}
                }
            }
            if let Ok(f) = ModelFile::parse(&bytes) {
                accepted += 1;
                assert_eq!(
                    f.encode(),
                    bytes,
                    "an accepted file must re-encode to itself"
                );
            }
            runs += 1;
        }
    }
    println!("fuzzed the parser with {runs} inputs in {secs} s ({accepted} accepted, 0 panics)");
}
