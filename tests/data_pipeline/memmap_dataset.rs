//! The memory-mapped dataset beyond the seed: stale-cache detection, tampering, many files,
//! legacy layouts, bad inputs, and streaming a dataset larger than the memory cap within the cap.

use std::path::PathBuf;

use num_complex::Complex32;
use ptycho_data::{
    BatchSource, Compression, DataError, GroupingParams, MemmapConfig, MemmapDataset, ScanData,
    generate_grouped_data,
};

use crate::common::{Member, canonical_members, raster_scan, write_members};
use crate::memmap_bridge_parity::cfg;

#[test]
fn memmap_stale_cache_is_detected_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.npz");
    let scan = raster_scan(6, 6, 8, 0.3);
    scan.save(&input, Compression::Deflated).unwrap();
    let inputs = vec![input.clone()];
    let map = dir.path().join("map");
    let config = cfg(20, 2, 1, 1 << 20);
    let (_, built) = MemmapDataset::open_or_build(&map, &inputs, &config).unwrap();
    assert!(built, "missing cache is built");
    let (_, built) = MemmapDataset::open_or_build(&map, &inputs, &config).unwrap();
    assert!(!built, "fresh cache is reused");
    // changed configuration
    let err = MemmapDataset::open(&map, &inputs, &cfg(20, 2, 2, 1 << 20)).unwrap_err();
    assert!(
        matches!(err, DataError::StaleCache { .. })
            && err.to_string().contains("configuration changed"),
        "{err}"
    );
    // changed input content
    let mut changed = scan.clone();
    changed.diffraction[[0, 0, 0]] += 1.0;
    changed.save(&input, Compression::Deflated).unwrap();
    let err = MemmapDataset::open(&map, &inputs, &config).unwrap_err();
    assert!(
        err.to_string().contains("scan.npz changed: sha256"),
        "{err}"
    );
    let (ds, built) = MemmapDataset::open_or_build(&map, &inputs, &config).unwrap();
    assert!(built);
    ds.verify(&inputs).unwrap();
}

#[test]
fn memmap_verify_detects_a_modified_cache() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.npz");
    raster_scan(6, 6, 8, 0.3)
        .save(&input, Compression::Deflated)
        .unwrap();
    let map = dir.path().join("map");
    let ds =
        MemmapDataset::build(std::slice::from_ref(&input), &map, &cfg(20, 2, 1, 1 << 20)).unwrap();
    drop(ds);
    let f = map.join("nn_indices.i64");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&f, bytes).unwrap();
    let ds = MemmapDataset::open_unchecked(&map).unwrap();
    let err = ds.verify(&[input]).unwrap_err();
    assert!(
        err.to_string().contains("nn_indices.i64 was modified"),
        "{err}"
    );
}

#[test]
fn memmap_many_files_keep_their_probe_and_normalisation() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    let mut scans = Vec::new();
    for k in 0..3 {
        let mut s = raster_scan(5, 5, 8, 0.3);
        s.diffraction.mapv_inplace(|v| v * (k + 1) as f32);
        s.probe
            .mapv_inplace(|p| p * Complex32::new(0.0, (k + 1) as f32));
        let p = dir.path().join(format!("scan{k}.npz"));
        s.save(&p, Compression::Deflated).unwrap();
        inputs.push(p);
        scans.push(s);
    }
    let ds =
        MemmapDataset::build(&inputs, dir.path().join("map"), &cfg(10, 2, 5, 1 << 20)).unwrap();
    assert_eq!(ds.len(), 30);
    assert_eq!(
        ds.experiment_ids()[..],
        [[0u32; 10], [1; 10], [2; 10]].concat()[..]
    );
    let b = ds.batch(&[5, 15, 25]).unwrap();
    for (k, s) in scans.iter().enumerate() {
        assert_eq!(b.probe.index_axis(ndarray::Axis(0), k), s.probe);
    }
    // each file normalised on its own: scaling a file's amplitudes leaves its X unchanged
    let x = ds.diffraction_view();
    let m = ds.manifest();
    assert!((m.inputs[0].norm / m.inputs[1].norm - 2.0).abs() < 1e-5);
    let e = |r: usize| {
        x.index_axis(ndarray::Axis(0), r)
            .iter()
            .map(|v| f64::from(*v).powi(2))
            .sum::<f64>()
    };
    let mean: f64 = (0..30).map(e).sum::<f64>() / 120.0;
    assert!((mean - 16.0).abs() < 1e-3, "{mean}");
}

/// A legacy (N, N, n) float64 input streams into the same rows as the in-memory loader gives.
#[test]
fn memmap_streams_legacy_hwn_float64_input() {
    let dir = tempfile::tempdir().unwrap();
    let scan = raster_scan(5, 4, 8, 0.3);
    let mut m = canonical_members(20, 8);
    let hwn: Vec<f64> = scan
        .diffraction
        .view()
        .permuted_axes([1, 2, 0])
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    m.remove("diffraction");
    m.insert("diff3d".into(), Member::F64(vec![8, 8, 20], hwn));
    m.insert(
        "xcoords".into(),
        Member::F64(vec![20], scan.xcoords.to_vec()),
    );
    m.insert(
        "ycoords".into(),
        Member::F64(vec![20], scan.ycoords.to_vec()),
    );
    let input = dir.path().join("hwn.npz");
    write_members(&input, &m);
    let loaded = ScanData::load(&input).unwrap().data;
    assert_eq!(loaded.diffraction, scan.diffraction);
    let ds =
        MemmapDataset::build(&[input], dir.path().join("map"), &cfg(10, 2, 42, 1 << 20)).unwrap();
    let g = generate_grouped_data(
        &loaded,
        &GroupingParams {
            n_groups: 10,
            gridsize: 2,
            neighbor_count: 4,
            seed: Some(42),
            ..Default::default()
        },
    )
    .unwrap();
    let diff = (&ds.diffraction_view() - &g.x_full)
        .mapv(f32::abs)
        .fold(0.0f32, |a, &b| a.max(b));
    assert!(diff < 1e-5, "{diff}");
}

#[test]
fn memmap_rejects_bad_inputs_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("nan.npz");
    let mut m = canonical_members(20, 8);
    let mut d = vec![1.5f32; 20 * 64];
    d[3 * 64 + 2 * 8 + 1] = f32::NAN;
    m.insert("diffraction".into(), Member::F32(vec![20, 8, 8], d));
    write_members(&input, &m);
    let map = dir.path().join("map");
    let err = MemmapDataset::build(&[input], &map, &cfg(10, 2, 1, 1 << 20)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("nan.npz")
            && msg.contains("`diffraction`")
            && msg.contains("NaN at index [3, 2, 1]"),
        "{msg}"
    );
    let counts = dir.path().join("counts.npz");
    let mut m = canonical_members(20, 8);
    m.remove("diffraction");
    m.insert(
        "diff3d".into(),
        Member::U16(
            vec![20, 8, 8],
            (0..20 * 64).map(|i| (i % 40) as u16).collect(),
        ),
    );
    write_members(&counts, &m);
    let err = MemmapDataset::build(std::slice::from_ref(&counts), &map, &cfg(10, 2, 1, 1 << 20))
        .unwrap_err();
    assert_eq!(
        err.problem(),
        Some(ptycho_data::Problem::Intensity),
        "{err}"
    );
    assert!(!map.exists());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".memmap")), "{names:?}");
    // opting in converts
    let conv = MemmapConfig {
        convert_intensity: true,
        ..cfg(10, 2, 1, 1 << 20)
    };
    assert_eq!(
        MemmapDataset::build(&[counts], &map, &conv).unwrap().len(),
        10
    );
    // no seed: refused (a rebuild could not be byte-identical)
    let mut unseeded = cfg(10, 2, 1, 1 << 20);
    unseeded.grouping.seed = None;
    assert!(MemmapDataset::build(&[], &map, &unseeded).is_err());
}

/// Done-when: a dataset several times larger than the memory cap builds and streams every
/// batch with peak heap below the cap (measured by the counting allocator).
#[test]
fn memmap_streams_dataset_larger_than_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 1usize << 20; // 1 MiB
    let mut inputs: Vec<PathBuf> = Vec::new();
    for k in 0..2 {
        let mut s = raster_scan(20, 15, 32, 0.3); // 300 patterns of 32x32 = 1.2 MB per file
        s.diffraction.mapv_inplace(|v| v + k as f32);
        let p = dir.path().join(format!("big{k}.npz"));
        s.save(&p, Compression::Stored).unwrap();
        inputs.push(p);
    }
    let config = cfg(300, 2, 9, cap);
    let (ds, build_peak) = crate::alloc::peak_heap(|| {
        MemmapDataset::build(&inputs, dir.path().join("map"), &config).unwrap()
    });
    let data_bytes = ds.diffraction_view().len() * 4;
    assert!(
        data_bytes >= 8 * cap,
        "dataset {data_bytes} B is several times the cap"
    );
    assert!(
        build_peak < cap,
        "build peak heap {build_peak} B within the cap {cap} B"
    );
    let batch = ds.max_batch_rows();
    assert!(batch >= 1 && batch < ds.len());
    let (rows, stream_peak) = crate::alloc::peak_heap(|| {
        let mut rows = 0usize;
        let mut sum = 0.0f64;
        for b in ds.batches(batch, Some(3)).unwrap() {
            let b = b.unwrap();
            rows += b.indices.len();
            sum += b.diffraction.iter().map(|&v| f64::from(v)).sum::<f64>();
        }
        assert!(sum > 0.0);
        rows
    });
    assert_eq!(rows, 600);
    assert!(
        stream_peak <= cap,
        "streaming peak heap {stream_peak} B within the cap {cap} B"
    );
    let err = ds.batches(batch + 1, None).unwrap_err();
    assert!(err.to_string().contains("memory_cap_bytes"), "{err}");
}

/// Ground truth in the memory map equals the in-memory grouped `Y`, both from the file's own
/// patches and extracted from `objectGuess`; files without any give batches without it.
#[test]
fn memmap_ground_truth_matches_in_memory_y() {
    let dir = tempfile::tempdir().unwrap();
    let mut from_object = raster_scan(6, 5, 8, 0.3);
    from_object.object = Some(ndarray::Array2::from_shape_fn((24, 24), |(r, c)| {
        Complex32::new(r as f32 + 0.5, c as f32 - 3.0)
    }));
    let mut from_patches = from_object.clone();
    from_patches.y_patches = Some(ndarray::Array3::from_shape_fn((30, 8, 8), |(i, r, c)| {
        Complex32::new(i as f32, (r * 8 + c) as f32)
    }));
    let params = GroupingParams {
        n_groups: 12,
        gridsize: 2,
        neighbor_count: 4,
        seed: Some(8),
        ..Default::default()
    };
    for (name, scan) in [("object", &from_object), ("patches", &from_patches)] {
        let path = dir.path().join(format!("{name}.npz"));
        scan.save(&path, Compression::Deflated).unwrap();
        let ds = MemmapDataset::build(
            std::slice::from_ref(&path),
            dir.path().join(format!("map_{name}")),
            &cfg(12, 2, 8, 1 << 20),
        )
        .unwrap();
        assert!(ds.has_ground_truth());
        let g = generate_grouped_data(scan, &params).unwrap();
        let b = ds.batch(&(0..12).collect::<Vec<_>>()).unwrap();
        assert_eq!(b.y.as_ref(), g.y.as_ref(), "{name}");
    }
    let bare = dir.path().join("bare.npz");
    let mut none = raster_scan(6, 5, 8, 0.3);
    none.object = None;
    none.save(&bare, Compression::Deflated).unwrap();
    let ds = MemmapDataset::build(
        &[bare],
        dir.path().join("map_bare"),
        &cfg(12, 2, 8, 1 << 20),
    )
    .unwrap();
    assert!(!ds.has_ground_truth());
    assert!(ds.batch(&[0]).unwrap().y.is_none());
}
