//! Throughput of stitching (should scale linearly with the pattern count: the per-pattern cost
//! is O(M²) and independent of the canvas) and of the full metric suite on a paper-sized image.
//! Run with `cargo bench -p ptycho-eval`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use num_complex::Complex32;
use ptycho_eval::{
    CanvasAnchor, EvalOptions, PatchWeighting, ScanPosition, StitchGeometry, Stitcher,
    evaluate_reconstruction,
};

const N: usize = 64;

fn bench_stitch(c: &mut Criterion) {
    let patch = Array2::from_shape_fn((N, N), |(r, col)| {
        Complex32::from_polar(1.0 + 0.01 * r as f32, 0.02 * col as f32)
    });
    let mut group = c.benchmark_group("stitch_m20_n64");
    for side in [16usize, 32, 64] {
        let positions: Vec<ScanPosition> = (0..side * side)
            .map(|k| {
                ScanPosition::new(
                    40.0 + 4.3 * (k % side) as f64,
                    40.0 + 4.1 * (k / side) as f64,
                )
            })
            .collect();
        group.throughput(Throughput::Elements(positions.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(positions.len()),
            &positions,
            |b, pos| {
                b.iter(|| {
                    let g = StitchGeometry::from_positions(
                        pos.iter().copied(),
                        N,
                        20,
                        CanvasAnchor::PixelGrid,
                    )
                    .unwrap();
                    let mut st = Stitcher::new(g, PatchWeighting::Uniform).unwrap();
                    for p in pos {
                        st.push(patch.view(), *p).unwrap();
                    }
                    black_box(st.finish())
                })
            },
        );
    }
    group.finish();
}

fn bench_metrics(c: &mut Criterion) {
    let side = 330; // the stitched lines test image of the 2023 benchmark
    let gt = Array2::from_shape_fn((side, side), |(r, col)| {
        Complex32::from_polar(
            1.0 + 0.3 * ((r as f32) * 0.1).sin(),
            0.2 * ((col as f32) * 0.07).cos(),
        )
    });
    let rec = gt.mapv(|z| z * Complex32::from_polar(1.1, 0.05));
    c.bench_function("evaluate_reconstruction_330", |b| {
        b.iter(|| {
            black_box(
                evaluate_reconstruction(rec.view(), gt.view(), &EvalOptions::default()).unwrap(),
            )
        })
    });
}

criterion_group!(benches, bench_stitch, bench_metrics);
criterion_main!(benches);
