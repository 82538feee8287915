//! The support rules of the model, training and inference sections (see the table in
//! [`crate::support`]).

use super::{defaults_only, gradient_clip, only, refuse, scheduler, show};
use crate::choices::{
    Architecture, Backend, GradientClipAlgorithm, ModelType, Optimizer, Scheduler, TorchLossMode,
};
use crate::error::Result;
use crate::execution::ExecutionConfig;
use crate::inference::InferenceConfig;
use crate::model::ModelConfig;
use crate::training::TrainingConfig;

const PYTORCH_GENERATORS: &str =
    "it configures the PyTorch generators, which this implementation does not build";
const BOTH_SET: &str = "set one of them, or the same value in both";

pub(super) fn check_model(m: &ModelConfig) -> Result<()> {
    let d = ModelConfig::default();
    only(
        "model.model_type",
        &m.model_type,
        &ModelType::Pinn,
        "supervised training is not implemented",
    )?;
    only(
        "model.architecture",
        &m.architecture,
        &Architecture::Cnn,
        "the generator of this implementation is upstream's TF CNN",
    )?;
    defaults_only!(
        "model",
        m,
        d,
        PYTORCH_GENERATORS,
        [
            fno_modes,
            fno_width,
            fno_blocks,
            fno_cnn_blocks,
            learned_input_channels,
            max_hidden_channels,
            resnet_width,
            fno_input_transform,
        ]
    );
    defaults_only!(
        "model",
        m,
        d,
        "the CNN generator's output heads are fixed: amplitude and phase, as upstream's TF model",
        [generator_output_mode]
    );
    defaults_only!(
        "model",
        m,
        d,
        "the probe mask is the TF model's hard disk; a soft edge or another diameter is not implemented",
        [probe_mask_sigma, probe_mask_diameter]
    );
    Ok(())
}

/// Seeds feed numpy's generator, which takes 32 bits.
fn check_seed(field: &str, seed: Option<u64>) -> Result<()> {
    match seed {
        Some(seed) if seed > u64::from(u32::MAX) => Err(refuse(
            field,
            &seed,
            "only seeds below 2^32 are supported (numpy's seed range; it seeds the subsampling and grouping)".to_owned(),
        )),
        _ => Ok(()),
    }
}

pub(super) fn check_training(t: &TrainingConfig, e: &ExecutionConfig) -> Result<()> {
    let d = TrainingConfig::default();
    check_seed("training.subsample_seed", t.subsample_seed)?;
    defaults_only!(
        "training",
        t,
        d,
        "patches are always placed at the scan's recorded positions",
        [positions_provided]
    );
    defaults_only!(
        "training",
        t,
        d,
        "matching the prediction's L2 norm to the target's is not implemented",
        [torch_mae_pred_l2_match_target]
    );
    match t.backend {
        Backend::Tensorflow => only(
            "training.torch_loss_mode",
            &t.torch_loss_mode,
            &TorchLossMode::Poisson,
            "with backend = \"tensorflow\" the loss is set by nll_weight and mae_weight; backend = \"pytorch\" selects the loss with torch_loss_mode",
        )?,
        Backend::Pytorch => defaults_only!(
            "training",
            t,
            d,
            "with backend = \"pytorch\" the loss is chosen by torch_loss_mode",
            [mae_weight, nll_weight]
        ),
    }
    if t.realspace_weight > 0.0 && t.realspace_mae_weight == 0.0 {
        return Err(refuse(
            "training.realspace_weight",
            &t.realspace_weight,
            "only 0.0 is supported while realspace_mae_weight is 0.0 (the real-space term is realspace_mae_weight × the complex MAE against the known object; its TV part has no canonical weight)".to_owned(),
        ));
    }
    only(
        "training.optimizer",
        &t.optimizer,
        &Optimizer::Adam,
        "the training loop's optimiser is Adam",
    )?;
    defaults_only!(
        "training",
        t,
        d,
        "momentum applies to the sgd optimizer, which is not supported",
        [momentum]
    );
    defaults_only!(
        "training",
        t,
        d,
        "the optimiser is Adam without weight decay",
        [weight_decay]
    );
    check_clipping(t, e)?;
    check_schedule(t, e)
}

fn check_clipping(t: &TrainingConfig, e: &ExecutionConfig) -> Result<()> {
    if let (Some(a), Some(b)) = (t.gradient_clip_val, e.gradient_clip_val)
        && a != b
    {
        return Err(refuse(
            "training.gradient_clip_val",
            &a,
            format!(
                "differs from execution.gradient_clip_val = {} ({BOTH_SET})",
                show(&b)
            ),
        ));
    }
    let (training, execution) = (t.gradient_clip_algorithm, e.gradient_clip_algorithm);
    let norm = GradientClipAlgorithm::Norm;
    if training != norm && execution != norm && training != execution {
        return Err(refuse(
            "training.gradient_clip_algorithm",
            &training,
            format!(
                "differs from execution.gradient_clip_algorithm = {} ({BOTH_SET})",
                show(&execution)
            ),
        ));
    }
    let (value, algorithm) = gradient_clip(t, e);
    let field = if training != norm {
        "training.gradient_clip_algorithm"
    } else {
        "execution.gradient_clip_algorithm"
    };
    if algorithm == GradientClipAlgorithm::Agc {
        return Err(refuse(
            field,
            &algorithm,
            "only \"norm\" and \"value\" are supported (adaptive gradient clipping is not implemented)".to_owned(),
        ));
    }
    if value.is_none() && algorithm != norm {
        return Err(refuse(
            field,
            &algorithm,
            "only \"norm\" (the default) is supported without a gradient_clip_val, as nothing is clipped".to_owned(),
        ));
    }
    Ok(())
}

fn check_schedule(t: &TrainingConfig, e: &ExecutionConfig) -> Result<()> {
    if t.scheduler != Scheduler::Default
        && e.scheduler != Scheduler::Default
        && t.scheduler != e.scheduler
    {
        return Err(refuse(
            "training.scheduler",
            &t.scheduler,
            format!(
                "differs from execution.scheduler = {} ({BOTH_SET})",
                show(&e.scheduler)
            ),
        ));
    }
    let d = TrainingConfig::default();
    let schedule = scheduler(t, e);
    let ignored = |name: &str| {
        format!(
            "only read by scheduler = \"{name}\"; the scheduler is {}",
            show(&schedule)
        )
    };
    if schedule != Scheduler::WarmupCosine {
        let why = ignored("WarmupCosine");
        defaults_only!("training", t, d, &why, [lr_warmup_epochs, lr_min_ratio]);
    }
    if !matches!(schedule, Scheduler::Default | Scheduler::ReduceLrOnPlateau) {
        let why = ignored("ReduceLROnPlateau\" or \"Default");
        defaults_only!(
            "training",
            t,
            d,
            &why,
            [
                plateau_factor,
                plateau_patience,
                plateau_min_lr,
                plateau_threshold
            ]
        );
    }
    Ok(())
}

pub(super) fn check_inference(i: &InferenceConfig) -> Result<()> {
    check_seed("inference.subsample_seed", i.subsample_seed)?;
    only(
        "inference.debug",
        &i.debug,
        &false,
        "there is no debug output",
    )?;
    only(
        "inference.backend",
        &i.backend,
        &Backend::Tensorflow,
        "reconstruction runs the bundle's model, whichever backend is named",
    )
}
