//! Compute-device selection: which burn backend a training or inference run uses.
//!
//! The CPU backend (`flex`) is always built. GPU backends are optional cargo features of this
//! crate (`wgpu`, `cuda`, forwarded by `ptycho-cli` and the root package), and burn 0.22 picks
//! the backend at run time from the [`Device`] value, so the model code is the same on all of
//! them. [`ComputeDevice::select`] turns a user's choice (the configuration's [`Accelerator`],
//! shared with `--accelerator`) into a device or a clear error that says whether the backend is
//! not compiled in or has no usable device on this machine.

use std::fmt;

use burn::tensor::Device;
pub use ptycho_config::Accelerator;

/// A burn backend this program can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's CPU backend.
    Flex,
    /// burn's wgpu (CubeCL) backend.
    Wgpu,
    /// burn's CUDA (CubeCL) backend.
    Cuda,
}

impl Backend {
    /// The name a bundle manifest records (`backend` field).
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        }
    }

    /// Whether this build includes the backend (its cargo feature was enabled).
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => true,
            Self::Wgpu => cfg!(feature = "wgpu"),
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a compute device cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The backend's cargo feature was not enabled in this build.
    #[error(
        "accelerator {0}: this build has no {0} backend (rebuild with `--features {0}`; the cpu backend is always available)"
    )]
    NotCompiled(Backend),
    /// The backend is built in but this machine offers no device for it.
    #[error("accelerator {backend}: no usable device: {reason}")]
    Unavailable {
        /// The backend.
        backend: Backend,
        /// What the runtime reported.
        reason: String,
    },
    /// `gpu` was asked for but no GPU backend works here.
    #[error("accelerator gpu: no GPU backend works in this build: {0}")]
    NoGpu(String),
}

/// A burn device together with the backend it runs on.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    backend: Backend,
    device: Device,
}

impl ComputeDevice {
    /// The CPU device (`flex`).
    pub fn cpu() -> Self {
        Self {
            backend: Backend::Flex,
            device: Device::flex(),
        }
    }

    /// The backend of this device (what a saved bundle records).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The burn device (without autodiff).
    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Default for ComputeDevice {
    fn default() -> Self {
        Self::cpu()
    }
}

impl ComputeDevice {
    /// The device of `accelerator`, or why it cannot be had.
    pub fn select(accelerator: Accelerator) -> Result<ComputeDevice, DeviceError> {
        match accelerator {
            Accelerator::Cpu => Ok(ComputeDevice::cpu()),
            Accelerator::Wgpu => gpu_device(Backend::Wgpu),
            Accelerator::Cuda => gpu_device(Backend::Cuda),
            Accelerator::Gpu | Accelerator::Auto => {
                let mut reasons = Vec::new();
                for backend in [Backend::Cuda, Backend::Wgpu] {
                    match gpu_device(backend) {
                        Ok(device) => return Ok(device),
                        Err(e) => reasons.push(e.to_string()),
                    }
                }
                if accelerator == Accelerator::Auto {
                    Ok(ComputeDevice::cpu())
                } else {
                    Err(DeviceError::NoGpu(reasons.join("; ")))
                }
            }
        }
    }
}

/// The default device of a GPU backend, checked to exist.
fn gpu_device(backend: Backend) -> Result<ComputeDevice, DeviceError> {
    if !backend.is_compiled() {
        return Err(DeviceError::NotCompiled(backend));
    }
    let device = match backend {
        Backend::Flex => Ok(Device::flex()),
        Backend::Wgpu => wgpu_device(),
        Backend::Cuda => cuda_device(),
    };
    device
        .map(|device| ComputeDevice { backend, device })
        .map_err(|reason| DeviceError::Unavailable { backend, reason })
}

/// The default wgpu adapter, initialised once per process: burn refuses to initialise the same
/// wgpu runtime twice, so the first answer (device or error) is kept.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    use std::sync::OnceLock;
    static DEVICE: OnceLock<Result<Device, String>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options().init().map_err(|e| {
                format!("{e} (on Linux without a GPU, install a software Vulkan driver: mesa-vulkan-drivers)")
            })
        })
        .clone()
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, String> {
    Err("not compiled in".to_owned())
}

/// The first CUDA device, after checking that the driver library loads and reports a device
/// (burn would otherwise panic on the first tensor operation).
#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, String> {
    // SAFETY: `is_culib_present` only tries to open the driver library with `dlopen`; it runs
    // no code of the library beyond its initialisers, as any program linking it would.
    #[allow(unsafe_code)]
    let present = unsafe { cudarc::driver::sys::is_culib_present() };
    if !present {
        return Err("the CUDA driver library (libcuda.so) is not installed".to_owned());
    }
    cudarc::driver::result::init().map_err(|e| format!("cuInit failed: {e:?}"))?;
    let count = cudarc::driver::result::device::get_count()
        .map_err(|e| format!("cannot count CUDA devices: {e:?}"))?;
    if count < 1 {
        return Err("the CUDA driver reports no device".to_owned());
    }
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device, String> {
    Err("not compiled in".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available_and_recorded_as_flex() {
        let device = ComputeDevice::select(Accelerator::Cpu).unwrap();
        assert_eq!(device.backend(), Backend::Flex);
        assert_eq!(device.backend().name(), "flex");
        assert_eq!(*device.device(), Device::flex());
    }

    #[test]
    fn backends_not_compiled_in_are_named_in_the_error() {
        for (accelerator, backend) in [
            (Accelerator::Wgpu, Backend::Wgpu),
            (Accelerator::Cuda, Backend::Cuda),
        ] {
            if backend.is_compiled() {
                continue;
            }
            let err = ComputeDevice::select(accelerator).unwrap_err();
            assert_eq!(err, DeviceError::NotCompiled(backend));
            let text = err.to_string();
            assert!(
                text.contains(&format!("this build has no {backend} backend"))
                    && text.contains(&format!("--features {backend}")),
                "{text}"
            );
        }
    }

    #[test]
    fn auto_falls_back_to_the_cpu_and_gpu_does_not() {
        let auto = ComputeDevice::select(Accelerator::Auto).unwrap();
        let gpu = ComputeDevice::select(Accelerator::Gpu);
        match gpu {
            // Some GPU backend works here: auto picks the same one.
            Ok(gpu) => assert_eq!(auto.backend(), gpu.backend()),
            Err(err) => {
                assert_eq!(auto.backend(), Backend::Flex);
                let text = err.to_string();
                assert!(
                    text.starts_with("accelerator gpu: no GPU backend works"),
                    "{text}"
                );
                assert!(text.contains("accelerator cuda") && text.contains("accelerator wgpu"));
            }
        }
    }
}
