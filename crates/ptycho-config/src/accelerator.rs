//! The compute-device choice shared by the configuration (`execution.accelerator`) and the
//! command line (`--accelerator`), so both accept exactly the same spellings.
//!
//! Upstream accepts `auto, cpu, gpu, cuda, mps` (and rejects `tpu`). This implementation runs on
//! burn's CPU backend or its GPU backends (CUDA, wgpu), so `mps` and `tpu` are refused with the
//! supported values; `wgpu` is added (it also drives Apple GPUs through Metal). Turning a choice
//! into a device needs burn and lives in `ptycho-workflows` (`ComputeDevice::select`).

use std::fmt;
use std::str::FromStr;

use crate::choices::ChoiceError;

/// A user's choice of compute device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Accelerator {
    /// The first GPU backend of this build that works (CUDA, then wgpu), else the CPU
    /// (upstream's default).
    #[default]
    Auto,
    /// The CPU backend (`flex`); always available.
    Cpu,
    /// Any GPU backend of this build (CUDA first, then wgpu); an error when none works.
    Gpu,
    /// NVIDIA CUDA.
    Cuda,
    /// The portable GPU backend (Vulkan, Metal, DX12, or a software Vulkan driver).
    Wgpu,
}

impl Accelerator {
    /// Every accepted canonical spelling.
    pub const ALL: &'static [&'static str] = &["auto", "cpu", "gpu", "cuda", "wgpu"];

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Accelerator::Auto => "auto",
            Accelerator::Cpu => "cpu",
            Accelerator::Gpu => "gpu",
            Accelerator::Cuda => "cuda",
            Accelerator::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for Accelerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Accelerator {
    type Err = ChoiceError;

    /// Case-insensitive; `flex` is an alias of `cpu`, `vulkan` of `wgpu`.
    fn from_str(text: &str) -> Result<Self, ChoiceError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Accelerator::Auto),
            "cpu" | "flex" => Ok(Accelerator::Cpu),
            "gpu" => Ok(Accelerator::Gpu),
            "cuda" => Ok(Accelerator::Cuda),
            "wgpu" | "vulkan" => Ok(Accelerator::Wgpu),
            other => {
                let hint = match other {
                    "mps" => " (Apple's MPS is not a backend of this build; wgpu runs on Metal)"
                        .to_owned(),
                    "tpu" => " (TPU execution is not supported)".to_owned(),
                    _ => crate::error::nearest(other, Self::ALL.iter().copied())
                        .map(|best| format!(" (did you mean {best:?}?)"))
                        .unwrap_or_default(),
                };
                Err(ChoiceError {
                    value: text.to_owned(),
                    expected: Self::ALL.join(", "),
                    hint,
                })
            }
        }
    }
}

impl serde::Serialize for Accelerator {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Accelerator {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_aliases_and_refusals() {
        for (text, want) in [
            ("auto", Accelerator::Auto),
            (" CPU ", Accelerator::Cpu),
            ("flex", Accelerator::Cpu),
            ("gpu", Accelerator::Gpu),
            ("cuda", Accelerator::Cuda),
            ("vulkan", Accelerator::Wgpu),
            ("wgpu", Accelerator::Wgpu),
        ] {
            assert_eq!(text.parse::<Accelerator>(), Ok(want), "{text}");
        }
        assert_eq!(Accelerator::default().to_string(), "auto");
        assert_eq!(
            "mps".parse::<Accelerator>().unwrap_err().to_string(),
            "\"mps\" is not one of auto, cpu, gpu, cuda, wgpu (Apple's MPS is not a backend of this build; wgpu runs on Metal)"
        );
        assert_eq!(
            "tpu".parse::<Accelerator>().unwrap_err().to_string(),
            "\"tpu\" is not one of auto, cpu, gpu, cuda, wgpu (TPU execution is not supported)"
        );
    }
}
