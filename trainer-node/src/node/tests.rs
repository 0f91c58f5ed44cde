use super::*;
use merit_protocol::commit::Committer;
use merit_protocol::format::TensorShape;

fn spec() -> ProjectSpec {
    ProjectSpec::from_json(include_str!("../../../examples/digits-spec.json")).unwrap()
}

fn model(spec: &ProjectSpec) -> ModelFile {
    ModelFile {
        kind: Kind::Model,
        scale_bits: spec.fixed_point.scale_bits,
        tensors: spec.tensor_shapes(),
        values: (0..spec.parameter_count())
            .map(|i| (i % 200) as i16 - 100)
            .collect(),
        floats: None,
    }
}

#[test]
fn the_global_model_must_open_its_commitment_and_fit_the_spec() {
    let spec = spec();
    let m = model(&spec);
    let c = Committer::new().commit_model(&m.values);
    let whole = Scheme::of(None).unwrap();
    check_global("cid", &m, c, &whole, &spec).unwrap();
    let mut tampered = m.clone();
    tampered.values[0] += 1;
    assert!(matches!(
        check_global("cid", &tampered, c, &whole, &spec),
        Err(NodeError::ModelCommitment { .. })
    ));
    let mut renamed = m.clone();
    renamed.tensors[0] = TensorShape {
        name: "w".into(),
        dims: vec![32, 64],
    };
    assert!(matches!(
        check_global("cid", &renamed, c, &whole, &spec),
        Err(NodeError::ModelShape { .. })
    ));
    let mut rescaled = m;
    rescaled.scale_bits = 9;
    assert!(matches!(
        check_global("cid", &rescaled, c, &whole, &spec),
        Err(NodeError::ModelShape { .. })
    ));
}

#[test]
fn update_files_parse_back_with_the_spec_layout() {
    let spec = spec();
    let values: Vec<i16> = (0..spec.parameter_count() as i16).collect();
    let f = update_file(&spec, values.clone());
    let back = ModelFile::parse(&f.encode()).unwrap();
    assert_eq!((back.kind, back.values), (Kind::Update, values));
    assert_eq!(back.tensors, spec.tensor_shapes());
}

#[test]
fn round_seeds_differ_by_round_slot_and_project() {
    let s = round_seed(1, 0, 0, 0);
    assert_ne!(s, round_seed(1, 0, 1, 0));
    assert_ne!(s, round_seed(1, 0, 0, 1));
    assert_ne!(s, round_seed(1, 1, 0, 0));
    assert_eq!(s, round_seed(1, 0, 0, 0));
}

#[test]
fn only_unreachable_services_are_retried() {
    let down = NodeError::Storage(StorageError::Unreachable {
        url: "u".into(),
        reason: "r".into(),
    });
    assert!(down.is_transient());
    let refused = NodeError::from(ChainError::Contract {
        message: "join",
        error: MarketError::WrongValue,
    });
    assert!(!refused.is_transient());
    assert!(!NodeError::ModelCommitment { cid: "c".into() }.is_transient());
}
