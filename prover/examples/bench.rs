//! `cargo run -p merit-prover --example bench -- SLOTS PARAMS` or `-- raw K`: the same as
//! `merit bench prove` without building the CLI; `-- v5 SLOTS PARAMS` proves protocol v5's
//! round circuit; `-- count SLOTS PARAMS` only counts.

use merit_prover::bench::rounded;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [count, n, d] = args.as_slice() {
        if count == "count" {
            let (n, d): (usize, usize) = (n.parse().expect("N"), d.parse().expect("D"));
            let f = n.saturating_sub(3) / 4;
            let p = merit_prover::sample::params(n, d, f);
            let c = merit_prover::round::RoundCircuit::blank(p).expect("shape");
            let (k, w, s) = merit_prover::bench::count(&c).expect("synthesis");
            let counted = serde_json::json!({
                "slots": n,
                "params": d,
                "constraints": k,
                "witnesses": w,
                "per_param": rounded(k as f64 / d as f64, 2),
                "per_param_per_slot": rounded(k as f64 / (d * n) as f64, 2),
                "synth_s": rounded(s, 2),
                "peak_rss_mib": merit_prover::bench::peak_rss_mib().round() as u64,
            });
            println!("{counted}");
            return;
        }
    }
    let r = match args.as_slice() {
        [raw, k] if raw == "raw" => merit_prover::bench::raw(k.parse().expect("K")),
        [n, d] => merit_prover::bench::round(n.parse().expect("N"), d.parse().expect("D"), 1),
        [v5, n, d] if v5 == "v5" => {
            merit_prover::bench::round_v5(n.parse().expect("N"), d.parse().expect("D"), 1)
        }
        _ => {
            eprintln!("usage: bench SLOTS PARAMS | bench v5 SLOTS PARAMS | bench raw K");
            std::process::exit(2);
        }
    };
    match r {
        Ok(r) => println!("{}\n{}", r.to_text(), r.to_json()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
