//! Replays the checkpoint-state corpus and regressions (`fuzz/corpus/train_state/`,
//! `fuzz/regressions/train_state/`) through [`parse_train_state`], the parser
//! `read_train_state` uses, on stable: every text must be answered with a state or an error,
//! never a panic. (No cargo-fuzz target: the state types live in ptycho-model, which pulls in
//! burn, too heavy to build instrumented for a fuzz run.)

use std::path::Path;

use ptycho_workflows::checkpoint::parse_train_state;

#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::replay;

#[test]
fn train_state_inputs_never_panic() {
    let count = replay("train_state", |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let _ = parse_train_state(text, Path::new("checkpoints/last"));
        }
    });
    assert!(count >= 5, "only {count} train_state inputs");
}

/// The seed is a real state; a state of another version names the file and both versions.
#[test]
fn seeds_parse_with_their_values_and_versions_are_checked() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/train_state");
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
