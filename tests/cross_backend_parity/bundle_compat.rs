//! Bundles cross backends: saved under `wgpu`, loaded under `flex`, and the other way round.
//! The manifest records the backend a bundle was saved with.

use ptycho_workflows::{Backend, InferenceModel};

use crate::support::{assert_close, container, flex, save, tiny_config, train_on, wgpu};

#[test]
fn wgpu_bundle_loads_and_infers_under_flex() {
    let config = tiny_config(1, 16);
    let trained = train_on(&config, &wgpu());
    assert_eq!(trained.device.backend(), Backend::Wgpu);
    let dir = tempfile::tempdir().unwrap();
    let bundle = save(&trained, dir.path(), "wgpu_bundle");

    let (on_flex, loaded) = InferenceModel::load_on(&bundle, &flex()).unwrap();
    assert_eq!(loaded.manifest.backend, "wgpu");
    assert_eq!(loaded.config, config);
    let scale = trained.trained_intensity_scale();
    assert!((loaded.intensity_scale - scale).abs() <= 1e-6 * scale);

    // The in-memory model (still on wgpu) and the reloaded one (on flex) reconstruct alike.
    let in_memory = trained.inference_model().unwrap();
    assert_eq!(in_memory.backend(), Backend::Wgpu);
    let data = container(&config);
    let a = in_memory.reconstruct(&data, 8).unwrap();
    let b = on_flex.reconstruct(&data, 8).unwrap();
    assert_close("wgpu-trained, wgpu vs reloaded on flex", &a, &b);
}

#[test]
fn flex_bundle_loads_and_infers_under_wgpu() {
    let config = tiny_config(1, 16);
    let trained = train_on(&config, &flex());
    let dir = tempfile::tempdir().unwrap();
    let bundle = save(&trained, dir.path(), "flex_bundle");

    let (on_wgpu, loaded) = InferenceModel::load_on(&bundle, &wgpu()).unwrap();
    assert_eq!(loaded.manifest.backend, "flex");
    assert_eq!(on_wgpu.backend(), Backend::Wgpu);
    assert_eq!(on_wgpu.config(), &config);

    let data = container(&config);
    let a = trained
        .inference_model()
        .unwrap()
        .reconstruct(&data, 8)
        .unwrap();
    let b = on_wgpu.reconstruct(&data, 8).unwrap();
    assert_close("flex-trained, flex vs reloaded on wgpu", &a, &b);
}
