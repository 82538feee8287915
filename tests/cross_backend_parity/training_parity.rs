//! Training parity: the same seed, data and config give the same losses on `flex` and `wgpu`.

use crate::support::{
    LOSS_RELATIVE_TOLERANCE, TRAINED_AMPLITUDE_TOLERANCE, TRAINED_PHASE_TOLERANCE, compare,
    container, flex, tiny_config, train_on, wgpu,
};

#[test]
fn training_steps_give_close_losses_on_flex_and_wgpu() {
    // 16 groups in batches of 8: two Adam steps per epoch, two epochs.
    let mut config = tiny_config(1, 16);
    config.nepochs = 2;
    let on_flex = train_on(&config, &flex());
    let on_wgpu = train_on(&config, &wgpu());

    let (a, b) = (on_flex.history.losses(), on_wgpu.history.losses());
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(b.len(), 2, "{b:?}");
    for (epoch, (la, lb)) in a.iter().zip(&b).enumerate() {
        assert!(
            la.is_finite() && lb.is_finite(),
            "epoch {epoch}: {la} vs {lb}"
        );
        let relative = (la - lb).abs() / la.abs().max(1e-12);
        eprintln!("epoch {epoch}: loss flex {la:.9e}, wgpu {lb:.9e}, relative {relative:.3e}");
        assert!(
            relative <= LOSS_RELATIVE_TOLERANCE,
            "epoch {epoch}: loss flex {la} vs wgpu {lb} (relative {relative:.3e})"
        );
    }
    // The losses moved (the runs trained), and by the same amount on both.
    assert_ne!(a[0], a[1]);
    let (sa, sb) = (
        on_flex.trained_intensity_scale(),
        on_wgpu.trained_intensity_scale(),
    );
    assert!((sa - sb).abs() <= 1e-4 * sa, "intensity scale {sa} vs {sb}");

    // The two trained models reconstruct alike: the training steps themselves agree.
    let data = container(&config);
    let ra = on_flex
        .inference_model()
        .unwrap()
        .reconstruct(&data, 8)
        .unwrap();
    let rb = on_wgpu
        .inference_model()
        .unwrap()
        .reconstruct(&data, 8)
        .unwrap();
    let d = compare(&ra, &rb);
    eprintln!("trained on flex vs trained on wgpu: {d:?}");
    assert!(d.peak_amplitude > 0.05 && d.phase_pixels > 1000, "{d:?}");
    assert!(
        d.amplitude <= TRAINED_AMPLITUDE_TOLERANCE,
        "after training, amplitudes differ by {}",
        d.amplitude
    );
    assert!(
        d.phase <= TRAINED_PHASE_TOLERANCE,
        "after training, phases differ by {} rad",
        d.phase
    );
}
