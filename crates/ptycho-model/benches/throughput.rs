//! Training and inference throughput at N = 64, batch 16, gridsize 1 and 2 (upstream size,
//! n_filters_scale 2), with achieved GFLOP/s and a coarse profile of where a step spends time,
//! on each CPU convolution kernel set (`ptycho_model::conv::ConvKernels`: ours with Winograd, ours
//! im2col only, burn's), so every run measures the before and the after side by side.
//!
//! `cargo bench -p ptycho-model --bench throughput` runs criterion on each case and writes
//! `throughput.json` (patterns/s, GFLOP/s, profile) into `$PTYCHO_BENCH_OUT` or
//! `<target>/ptycho-model-bench/`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use criterion::Criterion;
use serde_json::json;

use ptycho_model::conv::{ConvKernels, set_conv_kernels};
use ptycho_model::loss::weighted_loss;
use ptycho_model::physics::HostProbe;
use ptycho_model::{
    DeviceBatch, GeneratorSpec, GroupBatch, LossWeights, Physics, PhysicsSpec, Pinn, flops,
};

const BATCH: usize = 16;
const N: usize = 64;

struct Case {
    gs: usize,
    generator: GeneratorSpec,
    physics: PhysicsSpec,
    host: GroupBatch,
}

fn case(gs: usize) -> Case {
    let generator = GeneratorSpec {
        gridsize: gs,
        probe_big: false,
        ..GeneratorSpec::default()
    };
    let physics = PhysicsSpec {
        gridsize: gs,
        probe_big: false,
        intensity_scale: 988.0,
        ..PhysicsSpec::default()
    };
    let c = gs * gs;
    let amplitude: Vec<f32> = (0..BATCH * c * N * N)
        .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 1000.0)
        .collect();
    let offsets: Vec<f32> = (0..BATCH * c * 2)
        .map(|i| {
            if gs == 1 {
                0.0
            } else {
                ((i % 4) as f32 - 1.5) * 1.3
            }
        })
        .collect();
    Case {
        gs,
        generator,
        physics,
        host: GroupBatch {
            groups: BATCH,
            channels: c,
            n: N,
            amplitude,
            offsets,
            object: None,
        },
    }
}

fn mean_seconds(samples: &[Duration]) -> f64 {
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64
}

fn main() {
    // As the `ptycho` program does (see `ptycho_model::host_memory`).
    let _ = ptycho_model::host_memory::keep_freed_memory();
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    let mut report = Vec::new();
    for (gs, kernels) in [1usize, 2].into_iter().flat_map(|gs| {
        [ConvKernels::Ours, ConvKernels::Direct, ConvKernels::Burn].map(|kernels| (gs, kernels))
    }) {
        set_conv_kernels(kernels);
        let suffix = match kernels {
            ConvKernels::Ours => "",
            ConvKernels::Direct => "_im2col_conv",
            ConvKernels::Burn => "_burn_conv",
        };
        let case = case(gs);
        let patterns = (BATCH * gs * gs) as f64;
        let train_flop = BATCH as f64 * flops::train_step_per_group(&case.generator, &case.physics);
        let infer_flop = BATCH as f64 * flops::generator_forward(&case.generator)
            + BATCH as f64 * flops::physics_forward(&case.physics) * 0.0;

        // Training step: forward, loss, backward, Adam.
        let device = Device::flex().autodiff();
        let probe = HostProbe::default_disk(N);
        let physics = Physics::new(&case.physics, &probe, true, &device).unwrap();
        let mut model = Some(Pinn::new(&case.generator, &case.physics, 0, &device).unwrap());
        let mut optim = AdamConfig::new().init();
        let weights = LossWeights::default();
        let mut train_times = Vec::new();
        criterion.bench_function(&format!("train_step_gs{}_b{BATCH}{suffix}", case.gs), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let m = model.take().unwrap();
                    let batch = DeviceBatch::new(&case.host, &physics, &device).unwrap();
                    let out = m.forward(&physics, &batch);
                    let loss = weighted_loss(&out, &batch, 988.0, &weights, None).unwrap();
                    let grads = GradientsParams::from_grads(loss.total.backward(), &m);
                    let m = optim.step(1e-4, m, grads);
                    black_box(m.log_scale.val().into_scalar::<f32>());
                    model = Some(m);
                }
                let elapsed = start.elapsed();
                train_times.push(elapsed / iters as u32);
                elapsed
            })
        });

        // Inference: generator + reassembly (the `diffraction_to_obj` path), no autodiff.
        let device = Device::flex();
        let physics = Physics::new(&case.physics, &probe, true, &device).unwrap();
        let model = Pinn::new(&case.generator, &case.physics, 0, &device).unwrap();
        let mut infer_times = Vec::new();
        criterion.bench_function(&format!("inference_gs{}_b{BATCH}{suffix}", case.gs), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let batch = DeviceBatch::new(&case.host, &physics, &device).unwrap();
                    let obj = model.predict_object(&physics, &batch);
                    black_box(obj.re.into_data());
                }
                let elapsed = start.elapsed();
                infer_times.push(elapsed / iters as u32);
                elapsed
            })
        });

        // Coarse profile (inference device): generator alone, physics alone, full forward.
        let batch = DeviceBatch::new(&case.host, &physics, &device).unwrap();
        let time = |f: &dyn Fn()| {
            f();
            let start = Instant::now();
            for _ in 0..3 {
                f();
            }
            start.elapsed().as_secs_f64() / 3.0
        };
        let generator_s = time(&|| {
            let p = model.object_patches(batch.amplitude.clone(), 988.0);
            black_box(p.re.into_data());
        });
        let forward_s = time(&|| {
            let out = model.forward(&physics, &batch);
            black_box(out.intensity.into_data());
        });
        let train_s = mean_seconds(&train_times);
        let infer_s = mean_seconds(&infer_times);
        report.push(json!({
            "gridsize": gs,
            "conv_kernels": format!("{kernels:?}").to_lowercase(),
            "batch_groups": BATCH,
            "patterns_per_step": patterns,
            "n_filters_scale": case.generator.n_filters_scale,
            "train": {
                "seconds_per_step": train_s,
                "patterns_per_second": patterns / train_s,
                "gflop_per_step": train_flop / 1e9,
                "gflop_per_second": train_flop / 1e9 / train_s,
            },
            "inference": {
                "seconds_per_batch": infer_s,
                "patterns_per_second": patterns / infer_s,
                "gflop_per_batch": infer_flop / 1e9,
                "gflop_per_second": infer_flop / 1e9 / infer_s,
            },
            "profile_seconds": {
                "generator_forward": generator_s,
                "physics_forward": (forward_s - generator_s).max(0.0),
                "full_forward": forward_s,
                "backward_and_adam": (train_s - forward_s).max(0.0),
            },
        }));
    }
    let out_dir = std::env::var_os("PTYCHO_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"));
            target.join("ptycho-model-bench")
        });
    std::fs::create_dir_all(&out_dir).unwrap();
    let text = serde_json::to_string_pretty(&json!({ "cases": report })).unwrap();
    let path = out_dir.join("throughput.json");
    std::fs::write(&path, format!("{text}\n")).unwrap();
    println!("{text}\nwritten to {}", path.display());
    criterion.final_summary();
}
