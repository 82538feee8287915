//! One side of `cargo xtask bench --peer`: times our training step or inference pass for one
//! setting and prints one JSON line (patterns/s at the median step time).
//!
//! ```text
//! cargo run --release -p ptycho-model --example peer_step -- \
//!     --n 64 --batch 16 --gridsize 1 --nfs 2 --mode train --warmup 2 --steps 5
//! ```
//!
//! The step is the one of `benches/throughput.rs`: `probe.big` off, Poisson NLL
//! (`LossWeights::default`), Adam; training = batch upload with its translation matrices,
//! forward, loss, backward, Adam step; inference = batch upload, generator, canvas merge and
//! centre crop (`Pinn::predict_object`), read back to the host. `xtask/peer/torch_pinn.py` is
//! the PyTorch counterpart and prints the same fields, including the parameter count (the
//! harness checks that the two models have the same size).

use std::hint::black_box;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use serde_json::json;

use ptycho_model::loss::weighted_loss;
use ptycho_model::{
    DeviceBatch, GeneratorSpec, GroupBatch, HostProbe, LossWeights, Physics, PhysicsSpec, Pinn,
};

/// Photon scale `s` of the synthetic batch (upstream's default for N = 64).
const SCALE: f32 = 988.0;

struct Args {
    n: usize,
    batch: usize,
    gridsize: usize,
    nfs: usize,
    train: bool,
    warmup: usize,
    steps: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        n: 64,
        batch: 16,
        gridsize: 1,
        nfs: 2,
        train: true,
        warmup: 2,
        steps: 5,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("flag {} has no value", pair[0]));
        };
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: expected a non-negative integer, found {value:?}"))
        };
        match flag.as_str() {
            "--n" => args.n = number()?,
            "--batch" => args.batch = number()?,
            "--gridsize" => args.gridsize = number()?,
            "--nfs" => args.nfs = number()?,
            "--warmup" => args.warmup = number()?,
            "--steps" => args.steps = number()?.max(1),
            "--mode" if value == "train" || value == "infer" => args.train = value == "train",
            other => return Err(format!("unknown flag or value: {other} {value}")),
        }
    }
    Ok(args)
}

/// Deterministic pseudo-random amplitudes and, for gridsize > 1, offsets of ±2 px.
fn host_batch(a: &Args) -> GroupBatch {
    let c = a.gridsize * a.gridsize;
    let amplitude = (0..a.batch * c * a.n * a.n)
        .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 1000.0)
        .collect();
    let offsets = (0..a.batch * c * 2)
        .map(|i| match a.gridsize {
            1 => 0.0,
            _ => ((i % 4) as f32 - 1.5) * 1.3,
        })
        .collect();
    GroupBatch {
        groups: a.batch,
        channels: c,
        n: a.n,
        amplitude,
        offsets,
        object: None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As the `ptycho` program does (see `ptycho_model::host_memory`).
    let _ = ptycho_model::host_memory::keep_freed_memory();
    let a = parse_args()?;
    let generator = GeneratorSpec {
        n: a.n,
        gridsize: a.gridsize,
        n_filters_scale: a.nfs,
        probe_big: false,
        ..GeneratorSpec::default()
    };
    let spec = PhysicsSpec {
        n: a.n,
        gridsize: a.gridsize,
        probe_big: false,
        intensity_scale: SCALE,
        ..PhysicsSpec::default()
    };
    let host = host_batch(&a);
    let probe = HostProbe::default_disk(a.n);
    let device = if a.train {
        Device::flex().autodiff()
    } else {
        Device::flex()
    };
    let physics = Physics::new(&spec, &probe, true, &device)?;
    let mut model = Pinn::new(&generator, &spec, 0, &device)?;
    let mut optim = AdamConfig::new().init();
    let mut times = Vec::with_capacity(a.steps);
    for step in 0..a.warmup + a.steps {
        let start = Instant::now();
        let batch = DeviceBatch::new(&host, &physics, &device)?;
        if a.train {
            let out = model.forward(&physics, &batch);
            let loss = weighted_loss(&out, &batch, SCALE, &LossWeights::default(), None)?;
            let grads = GradientsParams::from_grads(loss.total.backward(), &model);
            model = optim.step(1e-4, model, grads);
            black_box(model.log_scale.val().into_scalar::<f32>());
        } else {
            black_box(model.predict_object(&physics, &batch).re.into_data());
        }
        if step >= a.warmup {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(f64::total_cmp);
    let half = times.len() / 2;
    let median = (times[half] + times[(times.len() - 1) / 2]) / 2.0;
    let patterns = a.batch * a.gridsize * a.gridsize;
    let line = json!({
        "impl": "burn-flex",
        "n": a.n, "batch": a.batch, "gridsize": a.gridsize, "nfs": a.nfs,
        "mode": if a.train { "train" } else { "infer" },
        "patterns_per_step": patterns, "steps": times.len(),
        "median_s": median, "mean_s": mean,
        "patterns_per_s": patterns as f64 / median,
        "parameters": model.num_params(),
    });
    println!("{line}");
    Ok(())
}
