//! Ptychodus products and HDF5 diffraction files through `ptycho`: `infer --product` writes the
//! reconstruction (object with pixel size and centre, probe, positions in metres, training
//! loss); with the `hdf5` feature, `train`/`infer`/`inspect` take an HDF5 diffraction file with
//! a product's positions and probe; without it an HDF5 file is refused with the command that
//! enables it.
//!
//! The model trains 1 epoch on 16 groups of the checked-in N = 64 fixture (seconds).

use std::path::{Path, PathBuf};

use ptycho_data::{Product, ScanData};

mod support;
use support::{ptycho, text};

const PIXEL_M: &str = "5e-8";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/datasets/sim_lines_n64.npz")
}

/// Trains the small model into `out` and returns the bundle directory.
fn train(out: &Path) -> PathBuf {
    let data = fixture();
    let o = ptycho(&[
        "train",
        "--train-data-file",
        data.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
        "--n-groups",
        "16",
        "--gridsize",
        "1",
        "--n-filters-scale",
        "1",
        "--batch-size",
        "8",
        "--max-epochs",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    out.to_path_buf()
}

#[test]
fn infer_writes_a_product_of_the_refined_reconstruction() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(&dir.path().join("model"));
    let data = fixture();
    let product = dir.path().join("product.npz");
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "infer",
            "--model-path",
            model.to_str().unwrap(),
            "--test-data-file",
            data.to_str().unwrap(),
            "--output-dir",
            out.to_str().unwrap(),
            "--refine-epochs",
            "2",
            "--quiet",
            "--product",
            product.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        ptycho(&a)
    };
    // A canonical NPZ has no pixel size: refused before reconstructing.
    let o = run(&[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!(
            "error: --product {}: the object's pixel size is unknown for a canonical NPZ: pass --pixel-size-m (metres per object pixel)",
            product.display()
        )),
        "{}",
        text(&o)
    );

    let o = run(&["--pixel-size-m", PIXEL_M]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("(ptychodus product: object [1, "),
        "{}",
        text(&o)
    );
    let p = Product::load(&product).unwrap();
    let scan = ScanData::load(&data).unwrap().data;
    assert_eq!(p.n_positions(), scan.n_positions());
    for k in [0, scan.n_positions() - 1] {
        assert!((p.probe_position_x_m[k] - scan.xcoords[k] * 5e-8).abs() < 1e-18);
        assert!((p.probe_position_y_m[k] - scan.ycoords[k] * 5e-8).abs() < 1e-18);
    }
    // Ptychodus' mapping puts every position back on its object-frame pixel.
    let (x, _) = p.positions_px();
    let shift = x[0] - scan.xcoords[0];
    assert!(shift.fract().abs() < 1e-6, "{shift}");
    for (xk, sk) in x.iter().zip(&scan.xcoords) {
        assert!((xk - sk - shift).abs() < 1e-6);
    }
    assert_eq!(p.object_pixel.width_m, 5e-8);
    assert_eq!(p.probe_pixel, p.object_pixel);
    assert_eq!(p.probe.shape(), &[1, 1, 64, 64]);
    assert_eq!(p.object.dim().0, 1);
    // The one training epoch's loss, from loss_history.json beside the bundle.
    assert_eq!(p.loss_epochs, vec![0]);
    assert_eq!(p.loss_values.len(), 1);
    assert_eq!(p.metadata.name, "sim_lines_n64");
    assert!(
        p.metadata
            .comments
            .contains("refined against the measured amplitudes"),
        "{}",
        p.metadata.comments
    );

    // The product is no scan: it names the flags that join it with diffraction patterns.
    let o = ptycho(&[
        "train",
        "--train-data-file",
        product.to_str().unwrap(),
        "--output-dir",
        dir.path().join("t").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("a ptychodus product holds no diffraction patterns: pass the diffraction file (HDF5) as --train-data-file and this product as --positions"),
        "{}",
        text(&o)
    );
    let o = ptycho(&["inspect", product.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("valid ptychodus product"), "{}", text(&o));
}

#[cfg(not(feature = "hdf5"))]
#[test]
fn hdf5_files_are_refused_with_the_command_that_enables_them() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.h5");
    std::fs::write(&scan, b"\x89HDF\r\n\x1a\n").unwrap();
    let enable = "HDF5 support is not built in: rebuild with `cargo build --release -p ptycho-cli --features hdf5` (it links the system libhdf5: run .ci/setup-hdf5 or install libhdf5-dev)";
    let o = ptycho(&["inspect", scan.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!(
            "{}: an HDF5 file (a ptychodus product or diffraction file), but {enable}",
            scan.display()
        )),
        "{}",
        text(&o)
    );
    let o = ptycho(&[
        "train",
        "--train-data-file",
        scan.to_str().unwrap(),
        "--positions",
        "positions.npz",
        "--output-dir",
        dir.path().join("t").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains(&format!(
            "{}: an HDF5 file (diffraction patterns), but {enable}",
            scan.display()
        )),
        "{}",
        text(&o)
    );
}

#[cfg(feature = "hdf5")]
#[test]
fn an_hdf5_scan_with_product_positions_trains_infers_and_round_trips() {
    use ptycho_data::diffraction_h5::write_h5_diffraction;

    let dir = tempfile::tempdir().unwrap();
    let model = train(&dir.path().join("model"));
    let data = fixture();
    let first = dir.path().join("first.h5");
    let o = ptycho(&[
        "infer",
        "--model-path",
        model.to_str().unwrap(),
        "--test-data-file",
        data.to_str().unwrap(),
        "--output-dir",
        dir.path().join("out1").to_str().unwrap(),
        "--refine-epochs",
        "0",
        "--quiet",
        "--pixel-size-m",
        PIXEL_M,
        "--product",
        first.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // The fixture's patterns as counts in a NeXus-style file.
    let scan = ScanData::load(&data).unwrap().data;
    let stack = dir.path().join("scan.h5");
    write_h5_diffraction(
        &stack,
        "/entry/data/data",
        &scan.diffraction.mapv(|a| a * a),
    )
    .unwrap();

    let o = ptycho(&["inspect", stack.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("diffraction: /entry/data/data ("),
        "{}",
        text(&o)
    );
    let o = ptycho(&["inspect", first.to_str().unwrap()]);
    assert!(text(&o).contains("valid ptychodus product"), "{}", text(&o));

    // Without positions the HDF5 file is refused with the flag to add.
    let o = ptycho(&[
        "train",
        "--train-data-file",
        stack.to_str().unwrap(),
        "--output-dir",
        dir.path().join("t0").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("an HDF5 diffraction file holds no positions or probe: pass a ptychodus product (.h5 or .npz) with --positions"),
        "{}",
        text(&o)
    );

    let o = ptycho(&[
        "train",
        "--train-data-file",
        stack.to_str().unwrap(),
        "--positions",
        first.to_str().unwrap(),
        "--output-dir",
        dir.path().join("t1").to_str().unwrap(),
        "--n-groups",
        "16",
        "--gridsize",
        "1",
        "--n-filters-scale",
        "1",
        "--max-epochs",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("from /entry/data/data"), "{}", text(&o));

    // Inference on the HDF5 scan writes a product in the same world frame and pixel size.
    let second = dir.path().join("second.h5");
    let o = ptycho(&[
        "infer",
        "--model-path",
        model.to_str().unwrap(),
        "--test-data-file",
        stack.to_str().unwrap(),
        "--positions",
        first.to_str().unwrap(),
        "--output-dir",
        dir.path().join("out2").to_str().unwrap(),
        "--refine-epochs",
        "0",
        "--quiet",
        "--product",
        second.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (a, b) = (
        Product::load(&first).unwrap(),
        Product::load(&second).unwrap(),
    );
    assert_eq!(b.object_pixel, a.object_pixel);
    assert_eq!(b.probe_position_indexes, a.probe_position_indexes);
    for k in 0..a.n_positions() {
        assert!((b.probe_position_x_m[k] - a.probe_position_x_m[k]).abs() < 1e-15);
        assert!((b.probe_position_y_m[k] - a.probe_position_y_m[k]).abs() < 1e-15);
    }
    // The stitched canvas depends on the sub-pixel phase of the positions in the new frame;
    // what must hold is that ptychodus' mapping puts the positions inside it.
    let (x, y) = b.positions_px();
    let (_, h, w) = b.object.dim();
    assert!(x.iter().all(|&v| v > 0.0 && v < w as f64), "{x:?} in {w}");
    assert!(y.iter().all(|&v| v > 0.0 && v < h as f64), "{y:?} in {h}");
}
