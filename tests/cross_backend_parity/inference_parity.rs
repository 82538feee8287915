//! One bundle, two backends: the reconstruction from `flex` and from `wgpu` agree.

use ptycho_workflows::{Backend, InferenceModel};

use crate::support::{assert_close, container, flex, save, tiny_config, train_on, wgpu};

/// Trains on the CPU, saves, and infers from the saved bundle on both backends.
fn same_bundle_same_inference(gridsize: usize, n_groups: usize) {
    let config = tiny_config(gridsize, n_groups);
    let trained = train_on(&config, &flex());
    let dir = tempfile::tempdir().unwrap();
    let bundle = save(&trained, dir.path(), "flex_bundle");

    let (on_flex, _) = InferenceModel::load_on(&bundle, &flex()).unwrap();
    let (on_wgpu, loaded) = InferenceModel::load_on(&bundle, &wgpu()).unwrap();
    assert_eq!(on_flex.backend(), Backend::Flex);
    assert_eq!(on_wgpu.backend(), Backend::Wgpu);
    assert_eq!(loaded.manifest.backend, "flex");
    // The trained scalar travels exactly (it is read back from the device).
    assert_eq!(
        on_flex.trained_intensity_scale(),
        on_wgpu.trained_intensity_scale()
    );

    let data = container(&config);
    let a = on_flex.reconstruct(&data, 8).unwrap();
    let b = on_wgpu.reconstruct(&data, 8).unwrap();
    assert_eq!(a.patches.shape(), &[n_groups, 64, 64]);
    assert_close(&format!("gridsize {gridsize}: flex vs wgpu"), &a, &b);
}

#[test]
fn same_bundle_same_inference_gridsize_1() {
    same_bundle_same_inference(1, 16);
}

/// Gridsize 2 adds the physics of inference: merging a group's four patches on the canvas with
/// sub-pixel translations and cropping at the centroid.
#[test]
fn same_bundle_same_inference_gridsize_2() {
    same_bundle_same_inference(2, 8);
}
