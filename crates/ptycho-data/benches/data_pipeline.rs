//! Speed of the data pipeline (criterion; speed goals live here, never in timed tests):
//! - grouping 100 000 scan positions (gridsize 2, K = 7, 10 000 groups; and gridsize 1),
//! - NPZ read throughput of a 64 MiB diffraction stack (stored and compressed),
//! - memory-mapped dataset build of a stack four times larger than its 4 MiB memory cap.
//!
//! Run: `cargo bench -p ptycho-data --bench data_pipeline`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array1, Array2, Array3};
use num_complex::Complex32;
use ptycho_data::{
    Compression, GroupingParams, MemmapConfig, MemmapDataset, NumpyRandomState, ScanData,
    group_positions,
};

fn jittered_raster(side: usize, rs: &mut NumpyRandomState) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::with_capacity(side * side);
    let mut y = Vec::with_capacity(side * side);
    for r in 0..side {
        for c in 0..side {
            x.push(c as f64 * 2.0 + rs.uniform(-0.4, 0.4));
            y.push(r as f64 * 2.0 + rs.uniform(-0.4, 0.4));
        }
    }
    (x, y)
}

fn scan(n: usize, npix: usize) -> ScanData {
    let mut rs = NumpyRandomState::new(1);
    let side = (n as f64).sqrt().ceil() as usize;
    let (mut x, mut y) = jittered_raster(side, &mut rs);
    x.truncate(n);
    y.truncate(n);
    ScanData {
        diffraction: Array3::from_shape_fn((n, npix, npix), |_| rs.random_sample() as f32),
        xcoords_start: Array1::from(x.clone()),
        ycoords_start: Array1::from(y.clone()),
        xcoords: Array1::from(x),
        ycoords: Array1::from(y),
        probe: Array2::from_elem((npix, npix), Complex32::new(1.0, 0.0)),
        object: None,
        scan_index: Array1::from_iter(0..n as i64),
        y_patches: None,
    }
}

fn grouping(c: &mut Criterion) {
    let (x, y) = jittered_raster(317, &mut NumpyRandomState::new(3)); // 100 489 positions
    let mut g = c.benchmark_group("grouping_100k");
    g.sample_size(10);
    let gs2 = GroupingParams {
        n_groups: 10_000,
        gridsize: 2,
        neighbor_count: 7,
        seed: Some(1),
        ..Default::default()
    };
    g.bench_function("gridsize2_k7_10k_groups", |b| {
        b.iter(|| black_box(group_positions(&x, &y, &gs2).unwrap()))
    });
    let all = GroupingParams {
        n_groups: x.len(),
        ..gs2.clone()
    };
    g.bench_function("gridsize2_k7_all_positions", |b| {
        b.iter(|| black_box(group_positions(&x, &y, &all).unwrap()))
    });
    let gs1 = GroupingParams { gridsize: 1, ..gs2 };
    g.bench_function("gridsize1_10k_groups", |b| {
        b.iter(|| black_box(group_positions(&x, &y, &gs1).unwrap()))
    });
    g.finish();
}

fn npz_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let data = scan(4096, 64); // 64 MiB of float32 diffraction
    let mut g = c.benchmark_group("npz_read_64MiB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((4096 * 64 * 64 * 4) as u64));
    for (name, comp) in [
        ("stored", Compression::Stored),
        ("deflated", Compression::Deflated),
    ] {
        let path = dir.path().join(format!("{name}.npz"));
        data.save(&path, comp).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| black_box(ScanData::load(&path).unwrap()))
        });
    }
    g.finish();
}

fn memmap_build(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scan.npz");
    scan(1024, 64).save(&input, Compression::Stored).unwrap(); // 16 MiB stack
    let cfg = MemmapConfig {
        grouping: GroupingParams {
            n_groups: 1024,
            gridsize: 2,
            neighbor_count: 7,
            seed: Some(1),
            ..Default::default()
        },
        memory_cap_bytes: 4 << 20,
        convert_intensity: false,
    };
    let inputs = vec![input];
    let mut g = c.benchmark_group("memmap_build_16MiB_cap_4MiB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes((1024 * 4 * 64 * 64 * 4) as u64));
    g.bench_function("build", |b| {
        b.iter(|| black_box(MemmapDataset::build(&inputs, dir.path().join("map"), &cfg).unwrap()))
    });
    let ds = MemmapDataset::build(&inputs, dir.path().join("map"), &cfg).unwrap();
    let rows = ds.max_batch_rows();
    g.bench_function("stream_all_batches", |b| {
        b.iter(|| {
            for batch in ds.batches(rows, Some(1)).unwrap() {
                black_box(batch.unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, grouping, npz_read, memmap_build);
criterion_main!(benches);
