//! SPEC.md's independent re-implementation (Python, stdlib only) agrees with every
//! committed vector — so the spec, not just our Rust, determines the vectors.

#[test]
fn the_python_reference_reproduces_every_vector() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/test-vectors/reference_check.py"
    );
    let out = std::process::Command::new("python3")
        .arg(script)
        .output()
        .expect("python3 runs (it is part of the Debian build packages the README lists)");
    assert!(
        out.status.success(),
        "reference_check.py disagrees:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
