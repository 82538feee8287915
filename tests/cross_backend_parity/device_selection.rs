//! Device selection in a wgpu build: the accelerator names reach a Vulkan adapter.

use ptycho_workflows::{Accelerator, Backend, ComputeDevice, DeviceError};

#[test]
fn wgpu_and_gpu_select_the_vulkan_adapter() {
    assert_eq!(
        ComputeDevice::select(Accelerator::Wgpu).unwrap().backend(),
        Backend::Wgpu
    );
    // Asking twice gives the same device (burn initialises a wgpu runtime only once).
    let (a, b) = (
        ComputeDevice::select(Accelerator::Wgpu).unwrap(),
        ComputeDevice::select(Accelerator::Wgpu).unwrap(),
    );
    assert_eq!(a.device(), b.device());
    if !cfg!(feature = "cuda") {
        // Without CUDA built in, gpu and auto both settle on wgpu.
        assert_eq!(
            ComputeDevice::select(Accelerator::Gpu).unwrap().backend(),
            Backend::Wgpu
        );
        assert_eq!(
            ComputeDevice::select(Accelerator::Auto).unwrap().backend(),
            Backend::Wgpu
        );
        let err = ComputeDevice::select(Accelerator::Cuda).unwrap_err();
        assert_eq!(err, DeviceError::NotCompiled(Backend::Cuda));
        assert!(
            err.to_string().contains("rebuild with `--features cuda`"),
            "{err}"
        );
    }
    assert_eq!(
        ComputeDevice::select(Accelerator::Cpu).unwrap().backend(),
        Backend::Flex
    );
}
