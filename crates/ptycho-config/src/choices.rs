//! Closed sets of string choices (upstream's `Literal[...]` annotations), enforced at load time.
//!
//! Upstream declares these as `Literal` types but never checks them; here each is an enum, so an
//! out-of-set value cannot exist. Parsing an unknown value names the accepted spellings and the
//! nearest one.

use std::fmt;
use std::str::FromStr;

pub use crate::accelerator::Accelerator;

/// Error from parsing a choice: the rejected text and the accepted set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not one of {expected}{hint}")]
pub struct ChoiceError {
    pub value: String,
    pub expected: String,
    pub hint: String,
}

macro_rules! string_choice {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? } default $default:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every accepted spelling, in upstream's order.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            /// The upstream spelling of this choice.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ChoiceError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ChoiceError {
                        value: text.to_owned(),
                        expected: Self::ALL.join(", "),
                        hint: crate::error::nearest(text, Self::ALL.iter().copied())
                            .map(|best| format!(" (did you mean {best:?}?)"))
                            .unwrap_or_default(),
                    }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_choice! {
    /// `model_type`: physics-informed (unsupervised) or supervised training.
    ModelType { Pinn => "pinn", Supervised => "supervised" } default Pinn
}

string_choice! {
    /// `architecture`: the generator family.
    Architecture {
        Cnn => "cnn",
        Ffno => "ffno",
        Fno => "fno",
        FnoVanilla => "fno_vanilla",
        NeuralopUno => "neuralop_uno",
    } default Cnn
}

string_choice! {
    /// `fno_input_transform`: transform applied to diffraction amplitudes before an FNO.
    FnoInputTransform { None => "none", Sqrt => "sqrt", Log1p => "log1p", InstanceNorm => "instancenorm" } default None
}

string_choice! {
    /// `generator_output_mode`: how the generator's last layer encodes the complex object.
    GeneratorOutputMode { RealImag => "real_imag", AmpPhaseLogits => "amp_phase_logits", AmpPhase => "amp_phase" } default RealImag
}

string_choice! {
    /// `amp_activation`: activation of the amplitude head (canonical names).
    AmpActivation { Sigmoid => "sigmoid", Swish => "swish", Softplus => "softplus", Relu => "relu" } default Sigmoid
}

string_choice! {
    /// `backend`: which implementation produced / consumes the configuration.
    Backend { Tensorflow => "tensorflow", Pytorch => "pytorch" } default Tensorflow
}

string_choice! {
    /// `torch_loss_mode`: the data-fidelity loss.
    TorchLossMode { Poisson => "poisson", Mae => "mae" } default Poisson
}

string_choice! {
    /// `gradient_clip_algorithm`.
    GradientClipAlgorithm { Norm => "norm", Value => "value", Agc => "agc" } default Norm
}

string_choice! {
    /// `optimizer`.
    Optimizer { Adam => "adam", AdamW => "adamw", Sgd => "sgd" } default Adam
}

string_choice! {
    /// `scheduler`: learning-rate schedule.
    Scheduler {
        Default => "Default",
        Exponential => "Exponential",
        WarmupCosine => "WarmupCosine",
        ReduceLrOnPlateau => "ReduceLROnPlateau",
    } default Default
}

string_choice! {
    /// Execution `precision`.
    Precision { Full32 => "32-true", Mixed16 => "16-mixed", Bf16Mixed => "bf16-mixed" } default Full32
}

string_choice! {
    /// Execution `checkpoint_mode`.
    CheckpointMode { Min => "min", Max => "max" } default Min
}

string_choice! {
    /// Execution `logger_backend` (upstream's spec lists these four; `none` disables logging).
    LoggerBackend { Csv => "csv", Tensorboard => "tensorboard", Mlflow => "mlflow", None => "none" } default Csv
}

string_choice! {
    /// Execution `spectral_bottleneck_gate_mode`.
    GateMode { Shared => "shared", PerBlock => "per_block" } default Shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_exact_spelling_and_rejects_others_with_hint() {
        assert_eq!("swish".parse::<AmpActivation>(), Ok(AmpActivation::Swish));
        let err = "swsh".parse::<AmpActivation>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"swsh\" is not one of sigmoid, swish, softplus, relu (did you mean \"swish\"?)"
        );
        assert!("Cnn".parse::<Architecture>().is_err());
        assert_eq!(
            "ReduceLROnPlateau".parse::<Scheduler>(),
            Ok(Scheduler::ReduceLrOnPlateau)
        );
    }

    #[test]
    fn defaults_match_upstream() {
        assert_eq!(ModelType::default().as_str(), "pinn");
        assert_eq!(Architecture::default().as_str(), "cnn");
        assert_eq!(Scheduler::default().as_str(), "Default");
        assert_eq!(Precision::default().as_str(), "32-true");
        assert_eq!(Backend::default().as_str(), "tensorflow");
    }
}
