//! Replays the checkpoint corpus and regressions (`fuzz/corpus/checkpoint/`,
//! `fuzz/regressions/checkpoint/`) on stable through the same body the `checkpoint` fuzz target
//! runs (`fuzz/checkpoint_case.rs`): `train_state.json` through `parse_train_state`, the
//! optimizer record through `load_optimizer_record` and one step. Every input must be answered
//! with a value or an error, never a panic.

use std::path::Path;

use burn::optim::AdamConfig;
use burn_pack::{Bytes, DType, Reader, Scalar, Writer};
use ptycho_model::train::load_optimizer_record;
use ptycho_workflows::checkpoint::parse_train_state;

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[path = "../../../fuzz/checkpoint_case.rs"]
mod checkpoint_case;

use replay::replay;

#[test]
fn checkpoint_inputs_never_panic() {
    let model = checkpoint_case::model();
    let count = replay("checkpoint", |bytes| {
        checkpoint_case::run(bytes, &model);
    });
    assert!(count >= 10, "only {count} checkpoint inputs");
}

/// Each regression made burn panic before the record was checked (a tensor without a parameter
/// id, moments flattened to rank 1, a recorded rank of 5 or 99) or, with a step count of
/// `u64::MAX`, overflow (a panic with debug assertions, NaN weights without); each is now
/// refused.
#[test]
fn regressions_are_refused_and_the_seed_record_is_accepted() {
    let model = checkpoint_case::model();
    let regressions = replay::inputs("checkpoint")
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "regressions"))
        .collect::<Vec<_>>();
    assert_eq!(regressions.len(), 5, "{regressions:?}");
    for file in &regressions {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            !checkpoint_case::run(&bytes, &model),
            "{} was accepted",
            file.display()
        );
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/checkpoint");
    let seed = std::fs::read(corpus.join("valid_adam.ckpt")).unwrap();
    assert!(checkpoint_case::run(&seed, &model));
}

/// The seed is a real state; a state of another version names the file and both versions.
#[test]
fn seeds_parse_with_their_values_and_versions_are_checked() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/checkpoint");
    let text = std::fs::read_to_string(corpus.join("plateau_early.json")).unwrap();
    let (seed, state) = parse_train_state(&text, Path::new("ckpt")).unwrap();
    assert_eq!((seed, state.next_epoch), (42, 2));
    assert_eq!(state.history.losses(), [0.75, 0.5]);
    assert!(
        state.optimizer.is_empty(),
        "the optimizer record lives in its own file"
    );
    let text = std::fs::read_to_string(corpus.join("future_version.json")).unwrap();
    let err = parse_train_state(&text, Path::new("ckpt"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ckpt") && err.contains("train_state.json: expected version 1, found 2"),
        "{err}"
    );
}

/// One tensor of a record as (name, dtype, shape, param id, bytes).
type TensorParts = (String, DType, Vec<usize>, Option<u64>, Vec<u8>);

/// The record repacked with every tensor passed through `tensor` and every scalar through
/// `scalar` (name, value).
fn repack(
    record: &[u8],
    tensor: impl Fn(&mut TensorParts),
    scalar: impl Fn(&str, Scalar) -> Scalar,
) -> Vec<u8> {
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(record.to_vec())).unwrap();
    let scalars = reader.scalars().clone();
    let tensors = reader
        .into_tensors()
        .unwrap()
        .into_iter()
        .map(|t| {
            let (name, dtype, shape, id, bytes) = t.into_parts().unwrap();
            let mut parts = (name, dtype, shape.to_vec(), id, bytes.to_vec());
            tensor(&mut parts);
            let (name, dtype, shape, id, bytes) = parts;
            burn_pack::Tensor::new(name, dtype, shape, id, Bytes::from_bytes_vec(bytes))
        })
        .collect();
    let mut writer = Writer::new(tensors);
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, scalar(key, *value));
    }
    writer.into_bytes().unwrap().to_vec()
}

/// The record with its tensors rewritten by `edit`.
fn rewrite(record: &[u8], edit: impl Fn(&mut TensorParts)) -> Vec<u8> {
    repack(record, edit, |_, value| value)
}

/// The record with every scalar whose name ends in `suffix` set to `value`.
fn with_scalar(record: &[u8], suffix: &str, value: Scalar) -> Vec<u8> {
    repack(
        record,
        |_| {},
        |key, old| if key.ends_with(suffix) { value } else { old },
    )
}

fn refusal(record: &[u8], model: &checkpoint_case::Model) -> String {
    match load_optimizer_record(record, AdamConfig::new().init(), model) {
        Ok(_) => panic!("the record was accepted"),
        Err(e) => e.to_string(),
    }
}

/// burn would panic on each of these (a tensor without a parameter id in `load_record`, the
/// others at the next step); the check refuses them by name first.
#[test]
fn optimizer_records_that_do_not_fit_the_model_are_refused_by_name() {
    let model = checkpoint_case::model();
    let valid = checkpoint_case::valid_record(&model);
    assert!(checkpoint_case::run(
        &[b"{}\0".as_slice(), &valid].concat(),
        &model
    ));

    let no_id = rewrite(&valid, |t| t.3 = None);
    assert!(refusal(&no_id, &model).contains("carries no parameter id"));

    let foreign = rewrite(&valid, |t| t.3 = t.3.map(|id| id + 1_000_000));
    let err = refusal(&foreign, &model);
    assert!(
        err.contains("a parameter this model does not have"),
        "{err}"
    );

    let misfiled = rewrite(&valid, |t| t.0 = format!("7.{}", t.0));
    assert!(refusal(&misfiled, &model).contains("is not named"));

    let reshaped = rewrite(&valid, |t| {
        let n: usize = t.2.iter().product();
        t.2 = vec![n];
    });
    let err = refusal(&reshaped, &model);
    assert!(err.contains("expected F32 of shape"), "{err}");

    let endless = with_scalar(&valid, ".momentum.time", Scalar::UInt(u64::MAX));
    let err = refusal(&endless, &model);
    assert!(
        err.contains("expected a step count from 0 to 2147483646"),
        "{err}"
    );

    let fractional = with_scalar(&valid, ".__rank", Scalar::Float(4.5));
    let err = refusal(&fractional, &model);
    assert!(err.contains("the parameter has rank"), "{err}");

    let err = refusal(b"not a burnpack record", &model);
    assert!(err.contains("not a burnpack record"), "{err}");
    let err = refusal(b"", &model);
    assert!(err.contains("holds no optimizer state"), "{err}");
}
