//! Ptychodus product files and HDF5 diffraction stacks: our NPZ and HDF5 products round-trip
//! and read back in Python (numpy, h5py) with every key, dtype, shape, unit and attribute
//! ptychodus expects; products of other writers (2-d arrays, complex128, `costs`) are read;
//! missing keys and datasets are named; without the `hdf5` feature an `.h5` file is refused
//! with the command that enables it.
//!
//! The Python check uses `scripts/h5py-venv.sh` (pinned h5py and numpy in
//! `target/h5py-venv`, installed from PyPI on first use); where they cannot be installed it
//! prints `skipped: <reason>` and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{PoisonError, RwLock};

use ndarray::{Array1, Array2, Array3, Array4};
use num_complex::{Complex32, Complex64};
use ptycho_data::npz::{ArrayData, Compression, NpzReader, NpzWriter};
use ptycho_data::product::{Reconstructed, keys, product_scan};
use ptycho_data::{PixelGeometry, Product, ProductMetadata, ScanData};
use serde_json::Value;

const PIXEL_M: f64 = 2.5e-8;

/// A product with every optional part: two coherent OPR modes × two incoherent modes, two
/// object layers, OPR weights and a loss history.
fn full_product() -> Product {
    let c = |a: f32, b: f32| Complex32::new(a, b);
    Product {
        metadata: ProductMetadata {
            name: "lines scan ✓".to_string(),
            comments: "written by ptychopinn-rs".to_string(),
            detector_object_distance_m: 1.5,
            probe_energy_ev: 8800.0,
            probe_photon_count: 1e9,
            exposure_time_s: 0.1,
            mass_attenuation_m2_kg: 12.5,
            tomography_angle_deg: -30.0,
        },
        probe_position_indexes: vec![0, 1, 2],
        probe_position_x_m: vec![1e-7, 2e-7, 3.5e-7],
        probe_position_y_m: vec![-1e-7, 0.0, 4e-7],
        probe: Array4::from_shape_fn((2, 2, 4, 4), |(a, b, r, k)| {
            c((a * 64 + b * 16 + r * 4 + k) as f32, -(r as f32))
        }),
        probe_pixel: PixelGeometry {
            width_m: PIXEL_M,
            height_m: 3e-8,
        },
        opr_weights: Some(Array2::from_shape_fn((3, 2), |(k, m)| {
            (k + m) as f64 * 0.25
        })),
        object: Array3::from_shape_fn((2, 6, 8), |(l, r, k)| {
            c(1.0 + l as f32, (r * 8 + k) as f32 * 0.01)
        }),
        object_pixel: PixelGeometry {
            width_m: PIXEL_M,
            height_m: 3e-8,
        },
        object_center_x_m: 1e-7,
        object_center_y_m: -2e-7,
        object_layer_spacing_m: vec![5e-6],
        loss_epochs: vec![0, 1, 2, 5],
        loss_values: vec![3.0, 2.0, 1.5, 1.25],
    }
}

/// The product `ptycho infer` writes: one probe, one layer, no OPR weights.
fn simple_product() -> Product {
    let mut p = full_product();
    p.probe = p.probe.slice(ndarray::s![0..1, 0..1, .., ..]).to_owned();
    p.opr_weights = None;
    p.object = p.object.slice(ndarray::s![0..1, .., ..]).to_owned();
    p.object_layer_spacing_m = Vec::new();
    p.loss_epochs = Vec::new();
    p.loss_values = Vec::new();
    p
}

/// Every member of our NPZ product with its numpy dtype and shape.
fn npz_layout(p: &Product) -> Vec<(&'static str, &'static str, Vec<usize>)> {
    let n = p.n_positions();
    let scalar = |k| (k, "float64", vec![]);
    let mut v = vec![
        (keys::NAME, "str", vec![]),
        (keys::COMMENTS, "str", vec![]),
        scalar(keys::DETECTOR_OBJECT_DISTANCE_M),
        scalar(keys::PROBE_ENERGY_EV),
        scalar(keys::PROBE_PHOTON_COUNT),
        scalar(keys::EXPOSURE_TIME_S),
        scalar(keys::MASS_ATTENUATION_M2_KG),
        scalar(keys::TOMOGRAPHY_ANGLE_DEG),
        (keys::PROBE_POSITION_INDEXES, "int64", vec![n]),
        (keys::PROBE_POSITION_X_M, "float64", vec![n]),
        (keys::PROBE_POSITION_Y_M, "float64", vec![n]),
        (keys::PROBE, "complex64", p.probe.shape().to_vec()),
        scalar(keys::PROBE_PIXEL_WIDTH_M),
        scalar(keys::PROBE_PIXEL_HEIGHT_M),
        (keys::OBJECT, "complex64", p.object.shape().to_vec()),
        scalar(keys::OBJECT_CENTER_X_M),
        scalar(keys::OBJECT_CENTER_Y_M),
        scalar(keys::OBJECT_PIXEL_WIDTH_M),
        scalar(keys::OBJECT_PIXEL_HEIGHT_M),
        (
            keys::OBJECT_LAYER_SPACING_M,
            "float64",
            vec![p.object_layer_spacing_m.len()],
        ),
        (keys::LOSS_EPOCHS, "int64", vec![p.loss_epochs.len()]),
        (keys::LOSS_VALUES, "float64", vec![p.loss_values.len()]),
    ];
    if let Some(w) = &p.opr_weights {
        v.push((keys::OPR_WEIGHTS, "float64", w.shape().to_vec()));
    }
    v
}

/// Every dataset and attribute of our HDF5 product (`@name`: root attribute,
/// `dataset@name`: attribute of a dataset) with its numpy dtype and shape as h5py reads it.
#[cfg(feature = "hdf5")]
fn h5_layout(p: &Product) -> Vec<(String, &'static str, Vec<usize>)> {
    let flat = |k: &str| match k {
        keys::PROBE_PIXEL_WIDTH_M => "probe@pixel_width_m".to_string(),
        keys::PROBE_PIXEL_HEIGHT_M => "probe@pixel_height_m".to_string(),
        keys::OBJECT_PIXEL_WIDTH_M => "object@pixel_width_m".to_string(),
        keys::OBJECT_PIXEL_HEIGHT_M => "object@pixel_height_m".to_string(),
        keys::OBJECT_CENTER_X_M => "object@center_x_m".to_string(),
        keys::OBJECT_CENTER_Y_M => "object@center_y_m".to_string(),
        keys::NAME
        | keys::COMMENTS
        | keys::DETECTOR_OBJECT_DISTANCE_M
        | keys::PROBE_ENERGY_EV
        | keys::PROBE_PHOTON_COUNT
        | keys::EXPOSURE_TIME_S
        | keys::MASS_ATTENUATION_M2_KG
        | keys::TOMOGRAPHY_ANGLE_DEG => format!("@{k}"),
        other => other.to_string(),
    };
    npz_layout(p)
        .into_iter()
        .map(|(k, dtype, shape)| (flat(k), dtype, shape))
        .collect()
}

/// What `p` holds under each key of [`npz_layout`], as the Python dump writes it.
fn expected_value(p: &Product, key: &str) -> Value {
    let m = &p.metadata;
    let cplx = |it: &mut dyn Iterator<Item = &Complex32>, shape: &[usize]| {
        let flat: Vec<Value> = it
            .map(|z| serde_json::json!([f64::from(z.re), f64::from(z.im)]))
            .collect();
        nest(flat, shape)
    };
    match key.trim_start_matches('@') {
        keys::NAME => Value::from(m.name.clone()),
        keys::COMMENTS => Value::from(m.comments.clone()),
        keys::DETECTOR_OBJECT_DISTANCE_M => Value::from(m.detector_object_distance_m),
        keys::PROBE_ENERGY_EV => Value::from(m.probe_energy_ev),
        keys::PROBE_PHOTON_COUNT => Value::from(m.probe_photon_count),
        keys::EXPOSURE_TIME_S => Value::from(m.exposure_time_s),
        keys::MASS_ATTENUATION_M2_KG => Value::from(m.mass_attenuation_m2_kg),
        keys::TOMOGRAPHY_ANGLE_DEG => Value::from(m.tomography_angle_deg),
        keys::PROBE_POSITION_INDEXES => Value::from(p.probe_position_indexes.clone()),
        keys::PROBE_POSITION_X_M => Value::from(p.probe_position_x_m.clone()),
        keys::PROBE_POSITION_Y_M => Value::from(p.probe_position_y_m.clone()),
        keys::PROBE => cplx(&mut p.probe.iter(), p.probe.shape()),
        keys::OBJECT => cplx(&mut p.object.iter(), p.object.shape()),
        keys::PROBE_PIXEL_WIDTH_M | "probe@pixel_width_m" => Value::from(p.probe_pixel.width_m),
        keys::PROBE_PIXEL_HEIGHT_M | "probe@pixel_height_m" => Value::from(p.probe_pixel.height_m),
        keys::OBJECT_PIXEL_WIDTH_M | "object@pixel_width_m" => Value::from(p.object_pixel.width_m),
        keys::OBJECT_PIXEL_HEIGHT_M | "object@pixel_height_m" => {
            Value::from(p.object_pixel.height_m)
        }
        keys::OBJECT_CENTER_X_M | "object@center_x_m" => Value::from(p.object_center_x_m),
        keys::OBJECT_CENTER_Y_M | "object@center_y_m" => Value::from(p.object_center_y_m),
        keys::OBJECT_LAYER_SPACING_M => Value::from(p.object_layer_spacing_m.clone()),
        keys::LOSS_EPOCHS => Value::from(p.loss_epochs.clone()),
        keys::LOSS_VALUES => Value::from(p.loss_values.clone()),
        keys::OPR_WEIGHTS => {
            let w = p.opr_weights.as_ref().unwrap();
            nest(w.iter().map(|&v| Value::from(v)).collect(), w.shape())
        }
        other => panic!("no expected value for {other}"),
    }
}

/// A flat C-order list nested to `shape` (what numpy's `tolist` gives).
fn nest(flat: Vec<Value>, shape: &[usize]) -> Value {
    match shape {
        [] => flat.into_iter().next().unwrap(),
        [_] => Value::Array(flat),
        [_, rest @ ..] => {
            let step: usize = rest.iter().product();
            Value::Array(
                flat.chunks(step.max(1))
                    .map(|c| nest(c.to_vec(), rest))
                    .collect(),
            )
        }
    }
}

#[test]
fn npz_product_round_trips_with_every_member_typed() {
    let dir = tempfile::tempdir().unwrap();
    for (name, product) in [
        ("full.npz", full_product()),
        ("simple.npz", simple_product()),
    ] {
        let path = dir.path().join(name);
        product.save(&path).unwrap();
        assert_eq!(Product::load(&path).unwrap(), product, "{name}");
        let mut reader = NpzReader::open(&path).unwrap();
        let layout = npz_layout(&product);
        let mut names: Vec<&str> = layout.iter().map(|(k, ..)| *k).collect();
        names.sort_unstable();
        assert_eq!(reader.names(), names.as_slice(), "{name}");
        for (key, dtype, shape) in layout {
            let header = reader.header(key).unwrap().unwrap();
            assert_eq!(header.shape, shape, "{name}: {key}");
            if dtype == "str" {
                assert!(header.dtype.starts_with("str"), "{key}: {}", header.dtype);
            } else {
                assert_eq!(header.dtype, dtype, "{name}: {key}");
            }
        }
        assert_eq!(
            reader.read_str(keys::NAME).unwrap().as_deref(),
            Some("lines scan ✓")
        );
    }
}

#[test]
fn npz_product_of_another_writer_is_promoted_and_takes_costs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.npz");
    let mut w = NpzWriter::create(&path, Compression::Deflated).unwrap();
    // What numpy.savez writes from Python values: 2-d complex128 arrays, float and int scalars,
    // no metadata, `costs` and no epochs.
    w.add(keys::PROBE_POSITION_INDEXES, &[2], &[4i64, 7])
        .unwrap();
    w.add(keys::PROBE_POSITION_X_M, &[2], &[0.0f64, 1e-6])
        .unwrap();
    w.add(keys::PROBE_POSITION_Y_M, &[2], &[0.0f32, 2e-6])
        .unwrap();
    w.add(keys::PROBE, &[2, 2], &[Complex64::new(1.0, 2.0); 4])
        .unwrap();
    w.add(keys::PROBE_PIXEL_WIDTH_M, &[], &[1e-8f64]).unwrap();
    w.add(keys::PROBE_PIXEL_HEIGHT_M, &[], &[1e-8f32]).unwrap();
    w.add(keys::OBJECT, &[3, 3], &[Complex64::new(0.5, 0.0); 9])
        .unwrap();
    w.add(keys::OBJECT_CENTER_X_M, &[], &[0i64]).unwrap();
    w.add(keys::OBJECT_CENTER_Y_M, &[], &[0.0f64]).unwrap();
    w.add(keys::OBJECT_PIXEL_WIDTH_M, &[], &[1e-8f64]).unwrap();
    w.add(keys::OBJECT_PIXEL_HEIGHT_M, &[], &[1e-8f64]).unwrap();
    w.add(keys::COSTS, &[3], &[9.0f64, 8.0, 7.5]).unwrap();
    w.finish().unwrap();
    let p = Product::load(&path).unwrap();
    assert_eq!(p.probe.shape(), &[1, 1, 2, 2]);
    assert_eq!(p.probe[[0, 0, 1, 1]], Complex32::new(1.0, 2.0));
    assert_eq!(p.object.shape(), &[1, 3, 3]);
    let height_m = f64::from(1e-8f32);
    assert_eq!(
        p.probe_pixel,
        PixelGeometry {
            width_m: 1e-8,
            height_m
        }
    );
    assert_eq!(p.loss_values, vec![9.0, 8.0, 7.5]);
    assert_eq!(p.loss_epochs, vec![0, 1, 2]);
    assert_eq!(p.metadata, ProductMetadata::default());
    assert_eq!(p.probe_position_indexes, vec![4, 7]);
}

#[test]
fn npz_product_without_a_pixel_size_names_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.npz");
    simple_product().save(&path).unwrap();
    // Rewrite it without object_pixel_width_m.
    let mut r = NpzReader::open(&path).unwrap();
    let stripped = dir.path().join("stripped.npz");
    let mut w = NpzWriter::create(&stripped, Compression::Stored).unwrap();
    for name in r.names().to_vec() {
        if name == keys::OBJECT_PIXEL_WIDTH_M {
            continue;
        }
        if name == keys::NAME || name == keys::COMMENTS {
            let text = r.read_str(&name).unwrap().unwrap();
            w.add_str(&name, &text).unwrap();
            continue;
        }
        let arr = r.read(&name).unwrap().unwrap();
        match arr.data {
            ArrayData::F64(v) => w.add(&name, &arr.shape, &v).unwrap(),
            ArrayData::Int(v) => w.add(&name, &arr.shape, &v).unwrap(),
            ArrayData::C64(v) => w.add(&name, &arr.shape, &v).unwrap(),
            other => panic!("{name}: {other:?}"),
        }
    }
    w.finish().unwrap();
    let err = Product::load(&stripped).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: missing key `object_pixel_width_m`: the object pixel width in metres (a ptychodus product NPZ has it)",
            stripped.display()
        )
    );
}

/// A scan of 3 positions with patterns of 4 × 4 and a 10 × 12 object frame.
fn small_scan() -> ScanData {
    let n = 3;
    ScanData {
        diffraction: Array3::from_shape_fn((n, 4, 4), |(k, r, c)| (k + r + c) as f32),
        xcoords: Array1::from(vec![3.0, 5.5, 7.0]),
        ycoords: Array1::from(vec![2.0, 4.0, 6.25]),
        xcoords_start: Array1::from(vec![3.0, 5.5, 7.0]),
        ycoords_start: Array1::from(vec![2.0, 4.0, 6.25]),
        probe: Array2::from_elem((4, 4), Complex32::new(1.0, 0.5)),
        object: None,
        scan_index: Array1::from(vec![0, 0, 0]),
        y_patches: None,
    }
}

#[test]
fn a_reconstruction_product_maps_back_to_its_pixel_positions() {
    let scan = small_scan();
    // The stitched canvas starts at object-frame pixel (x -1, y 0.5), 12 wide, 10 high.
    let object = Array2::from_shape_fn((10, 12), |(r, c)| Complex32::new(r as f32, c as f32));
    let product = Product::from_reconstruction(Reconstructed {
        scan: &scan,
        object: object.clone(),
        object_origin: (-1.0, 0.5),
        probe_modes: scan.probe.clone().insert_axis(ndarray::Axis(0)),
        pixel: PixelGeometry::square(PIXEL_M),
        frame_origin_m: (0.0, 0.0),
        loss_epochs: vec![0, 1],
        loss_values: vec![2.0, 1.0],
        metadata: ProductMetadata::default(),
    });
    // Metres are pixels × pixel size (upstream's export); the centre is origin + size / 2.
    assert_eq!(
        product.probe_position_x_m,
        vec![3.0 * PIXEL_M, 5.5 * PIXEL_M, 7.0 * PIXEL_M]
    );
    assert!((product.object_center_x_m - 5.0 * PIXEL_M).abs() < 1e-20);
    assert!((product.object_center_y_m - 5.5 * PIXEL_M).abs() < 1e-20);
    assert_eq!(product.probe.shape(), &[1, 1, 4, 4]);
    assert_eq!(product.object.shape(), &[1, 10, 12]);
    assert_eq!(product.probe_position_indexes, vec![0, 1, 2]);
    // Ptychodus' mapping lands on the canvas pixel of each position.
    let (x, y) = product.positions_px();
    for k in 0..3 {
        assert!((x[k] - (scan.xcoords[k] + 1.0)).abs() < 1e-9, "{x:?}");
        assert!((y[k] - (scan.ycoords[k] - 0.5)).abs() < 1e-9, "{y:?}");
    }

    let (fx, fy) = product.frame_origin_m();
    assert!((fx + PIXEL_M).abs() < 1e-20 && (fy - 0.5 * PIXEL_M).abs() < 1e-20);
    // A scan from a product keeps that product's world frame when written again.
    let again = Product::from_reconstruction(Reconstructed {
        scan: &ScanData {
            xcoords: Array1::from(x.clone()),
            ycoords: Array1::from(y.clone()),
            ..scan.clone()
        },
        object: object.clone(),
        object_origin: (0.0, 0.0),
        probe_modes: scan.probe.clone().insert_axis(ndarray::Axis(0)),
        pixel: PixelGeometry::square(PIXEL_M),
        frame_origin_m: product.frame_origin_m(),
        loss_epochs: vec![],
        loss_values: vec![],
        metadata: ProductMetadata::default(),
    });
    for k in 0..3 {
        assert!((again.probe_position_x_m[k] - product.probe_position_x_m[k]).abs() < 1e-20);
        assert!((again.probe_position_y_m[k] - product.probe_position_y_m[k]).abs() < 1e-20);
    }
    assert!((again.object_center_x_m - product.object_center_x_m).abs() < 1e-20);

    // Back to a canonical scan with the patterns, in the product's order.
    let amplitudes = Array3::from_shape_fn((3, 4, 4), |(k, _, _)| k as f32);
    let mut shuffled = product.clone();
    shuffled.probe_position_indexes = vec![2, 0, 1];
    let here = Path::new("p.npz");
    let loaded = product_scan(&shuffled, here, &amplitudes, Path::new("d.h5")).unwrap();
    let data = loaded.data;
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(data.diffraction[[0, 0, 0]], 2.0);
    assert_eq!(data.diffraction[[1, 0, 0]], 0.0);
    assert_eq!(data.scan_index.to_vec(), vec![2, 0, 1]);
    assert_eq!(data.object.as_ref().unwrap(), &object);
    assert_eq!(data.probe, scan.probe);
    assert!((data.xcoords[0] - 4.0).abs() < 1e-9);

    // An index past the patterns and a probe of another size are named.
    shuffled.probe_position_indexes = vec![0, 1, 3];
    let err = product_scan(&shuffled, here, &amplitudes, Path::new("d.h5")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "p.npz: key `probe_position_indexes`: expected pattern indexes 0..3 (the patterns in d.h5), found 3 at position 2"
    );
    let big = Array3::zeros((3, 8, 8));
    let err = product_scan(&product, here, &big, Path::new("d.h5")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "p.npz: key `probe`: expected modes of 8 x 8 (the pattern size of d.h5), found shape [1, 1, 4, 4]"
    );
}

#[cfg(not(feature = "hdf5"))]
#[test]
fn hdf5_files_are_refused_with_the_command_that_enables_them() {
    let err = Product::load("scan/product.h5").unwrap_err();
    assert_eq!(
        err.to_string(),
        "scan/product.h5: an HDF5 file (a ptychodus product), but HDF5 support is not built in: rebuild with `cargo build --release -p ptycho-cli --features hdf5` (it links the system libhdf5: run .ci/setup-hdf5 or install libhdf5-dev)"
    );
    let err = simple_product().save("out.hdf5").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("out.hdf5: an HDF5 file (a ptychodus product to write), but HDF5 support is not built in"),
        "{err}"
    );
}

/// HDF5 opens its files without close-on-exec, so a child process started while another test
/// has an HDF5 file open inherits the descriptor and its `flock` lock, and the next open of that
/// file in this process fails ("unable to lock file, errno = 11"; about one run in seven of this
/// target failed so). Tests hold this for reading while they have HDF5 files open; starting a
/// child holds it for writing.
static HDF5_OPEN: RwLock<()> = RwLock::new(());

/// Runs `command` to its end while no test has an HDF5 file open.
fn run_child(command: &mut Command) -> std::io::Result<Output> {
    let _no_open_hdf5 = HDF5_OPEN.write().unwrap_or_else(PoisonError::into_inner);
    command.output()
}

/// The venv's python with h5py and numpy, from the project's script; `Err` says why not.
fn h5py_python() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("scripts/h5py-venv.sh");
    let output = run_child(Command::new("bash").arg(&script).stderr(Stdio::inherit()))
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} could not install h5py and numpy ({})",
            script.display(),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let python = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    if python.is_file() {
        Ok(python)
    } else {
        Err(format!(
            "{} printed no python: {stdout:?}",
            script.display()
        ))
    }
}

/// The Python dump of a product file (see `tests/support/dump_product.py`).
fn python_dump(python: &Path, file: &Path) -> serde_json::Map<String, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/dump_product.py");
    let output = run_child(Command::new(python).arg(&script).arg(file)).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let Value::Object(map) = serde_json::from_slice(&output.stdout).unwrap() else {
        panic!("not a JSON object")
    };
    map
}

/// Checks a dump against the layout and the product's values, key by key.
fn check_dump(
    mut dump: serde_json::Map<String, Value>,
    layout: Vec<(String, &'static str, Vec<usize>)>,
    product: &Product,
    string_storage: &dyn Fn(&str) -> bool,
) {
    let versions = dump.remove("versions").unwrap();
    let mut expected_keys: Vec<&str> = layout.iter().map(|(k, ..)| k.as_str()).collect();
    expected_keys.sort_unstable();
    let mut found_keys: Vec<&str> = dump.keys().map(String::as_str).collect();
    found_keys.sort_unstable();
    assert_eq!(found_keys, expected_keys, "read with {versions}");
    for (key, dtype, shape) in &layout {
        let entry = &dump[key.as_str()];
        assert_eq!(entry["dtype"], *dtype, "{key}");
        assert_eq!(entry["shape"], serde_json::json!(shape), "{key}");
        assert_eq!(entry["value"], expected_value(product, key), "{key}");
        if *dtype == "str" {
            let storage = entry["storage"].as_str().unwrap_or_default();
            assert!(string_storage(storage), "{key}: stored as {storage}");
        }
    }
}

#[test]
fn numpy_reads_our_npz_product_with_every_key_dtype_and_unit() {
    let python = match h5py_python() {
        Ok(p) => p,
        Err(reason) => {
            println!("skipped: {reason}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    for product in [full_product(), simple_product()] {
        let path = dir.path().join("product.npz");
        product.save(&path).unwrap();
        let layout = npz_layout(&product)
            .into_iter()
            .map(|(k, d, s)| (k.to_string(), d, s))
            .collect();
        // numpy's dtype of a str is `<U{characters}`.
        check_dump(python_dump(&python, &path), layout, &product, &|s: &str| {
            s.starts_with("<U")
        });
    }
}

#[cfg(feature = "hdf5")]
mod hdf5_files {
    use super::*;
    use hdf5_metno as hdf5;
    use ptycho_data::diffraction_h5::{DATASET_PATHS, read_h5_diffraction};
    use std::sync::RwLockReadGuard;

    /// Held while this test has HDF5 files open (see [`HDF5_OPEN`]).
    fn hdf5_files_open() -> RwLockReadGuard<'static, ()> {
        HDF5_OPEN.read().unwrap_or_else(PoisonError::into_inner)
    }

    #[test]
    fn h5_product_round_trips() {
        let _open = hdf5_files_open();
        let dir = tempfile::tempdir().unwrap();
        for product in [full_product(), simple_product()] {
            let path = dir.path().join("product.h5");
            product.save(&path).unwrap();
            assert_eq!(Product::load(&path).unwrap(), product);
        }
    }

    #[test]
    fn h5py_reads_our_h5_product_with_every_key_dtype_unit_and_attribute() {
        let python = match h5py_python() {
            Ok(p) => p,
            Err(reason) => {
                println!("skipped: {reason}");
                return;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        for product in [full_product(), simple_product()] {
            let path = dir.path().join("product.h5");
            {
                let _open = hdf5_files_open();
                product.save(&path).unwrap();
            }
            // Strings as h5py writes a Python str: variable-length UTF-8.
            check_dump(
                python_dump(&python, &path),
                h5_layout(&product),
                &product,
                &|s: &str| s == "vlen utf-8",
            );
        }
    }

    #[test]
    fn h5_product_without_an_object_attribute_names_it() {
        let _open = hdf5_files_open();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("product.h5");
        simple_product().save(&path).unwrap();
        let file = hdf5::File::open_rw(&path).unwrap();
        file.dataset("object")
            .unwrap()
            .delete_attr("center_x_m")
            .unwrap();
        file.unlink("probe_position_x_m").unwrap();
        drop(file);
        let err = Product::load(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: missing key `probe_position_x_m`: probe x positions in metres (a dataset of every ptychodus product)",
                path.display()
            )
        );
        let file = hdf5::File::open_rw(&path).unwrap();
        file.new_dataset::<f64>()
            .shape([3])
            .create("probe_position_x_m")
            .unwrap()
            .write_raw(&[0.0, 1e-7, 2e-7])
            .unwrap();
        drop(file);
        let err = Product::load(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: missing key `object@center_x_m`: attribute `center_x_m` of `object`, float64 metres",
                path.display()
            )
        );
    }

    /// Writes `counts` at `dataset` (groups created as needed) of a new file.
    fn write_stack(path: &Path, dataset: &str, counts: &Array3<u16>) {
        let file = hdf5::File::create(path).unwrap();
        let parts: Vec<&str> = dataset.trim_start_matches('/').split('/').collect();
        let mut group = file.as_group().unwrap();
        for part in &parts[..parts.len() - 1] {
            group = group.create_group(part).unwrap();
        }
        group
            .new_dataset_builder()
            .with_data(counts)
            .create(*parts.last().unwrap())
            .unwrap();
    }

    #[test]
    fn diffraction_is_read_from_each_known_dataset_as_amplitudes() {
        let _open = hdf5_files_open();
        let dir = tempfile::tempdir().unwrap();
        let counts =
            Array3::from_shape_fn((3, 4, 4), |(k, r, c)| ((k * 16 + r * 4 + c) as u16).pow(2));
        for dataset in DATASET_PATHS {
            let path = dir.path().join("scan.h5");
            write_stack(&path, dataset, &counts);
            let read = read_h5_diffraction(&path).unwrap();
            assert_eq!(read.dataset, dataset);
            assert_eq!(read.amplitudes.shape(), &[3, 4, 4]);
            assert_eq!(read.amplitudes[[2, 3, 1]], (2 * 16 + 3 * 4 + 1) as f32);
        }
    }

    #[test]
    fn a_file_without_a_diffraction_stack_lists_the_places_looked_at() {
        let _open = hdf5_files_open();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scan.h5");
        write_stack(&path, "/entry/other", &Array3::zeros((1, 2, 2)));
        let err = read_h5_diffraction(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: missing key `/entry/data/data`: a diffraction stack (patterns, N, N) at one of /entry/data/data, /exchange/data, /dp (none is in the file)",
                path.display()
            )
        );
        let path = dir.path().join("flat.h5");
        let file = hdf5::File::create(&path).unwrap();
        file.new_dataset::<f32>()
            .shape([4, 4])
            .create("dp")
            .unwrap();
        drop(file);
        let err = read_h5_diffraction(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: key `/dp`: expected a 3-d stack (patterns, N, N), found shape [4, 4]",
                path.display()
            )
        );
    }
}
