//! Device selection in a wgpu build: the accelerator names reach a Vulkan adapter.

use ptycho_workflows::{Accelerator, Backend, DeviceError};

#[test]
fn wgpu_and_gpu_select_the_vulkan_adapter() {
    assert_eq!(Accelerator::Wgpu.select().unwrap().backend(), Backend::Wgpu);
    // Asking twice gives the same device (burn initialises a wgpu runtime only once).
    let (a, b) = (
        Accelerator::Wgpu.select().unwrap(),
        Accelerator::Wgpu.select().unwrap(),
    );
    assert_eq!(a.device(), b.device());
    if !cfg!(feature = "cuda") {
        // Without CUDA built in, gpu and auto both settle on wgpu.
        assert_eq!(Accelerator::Gpu.select().unwrap().backend(), Backend::Wgpu);
        assert_eq!(Accelerator::Auto.select().unwrap().backend(), Backend::Wgpu);
        let err = Accelerator::Cuda.select().unwrap_err();
        assert_eq!(err, DeviceError::NotCompiled(Backend::Cuda));
        assert!(
            err.to_string().contains("rebuild with `--features cuda`"),
            "{err}"
        );
    }
    assert_eq!(Accelerator::Cpu.select().unwrap().backend(), Backend::Flex);
}
