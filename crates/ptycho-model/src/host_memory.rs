//! How the process's C allocator treats the large tensor buffers a training step frees.
//!
//! Every step allocates and frees the same few dozen buffers of megabytes (activations,
//! gradients, convolution outputs). glibc's `malloc` serves blocks above its mmap threshold
//! (128 KiB, adapted up to at most 32 MiB) with a fresh `mmap` and returns them with `munmap`,
//! and trims free memory at the top of its heap back to the system. The next step then takes a
//! page fault per 4 KiB page and the kernel zeroes each one: at N = 128, batch 16, an inference
//! pass took 440 000 page faults in 9 passes, and ran 1.5× faster without them
//! (`cargo run --release -p ptycho-model --example peer_step`, README "Performance").
//!
//! [`keep_freed_memory`] asks glibc to keep such blocks in its heap for reuse instead. The
//! process then holds on to its peak working set until it exits, which is what a training or
//! reconstruction run needs anyway. It is for programs that own their process (the `ptycho`
//! command, benchmarks), not for the library as a guest in someone else's (the Python module
//! leaves the host's allocator alone).

/// Largest block glibc still serves from its heap (it accepts up to `i32::MAX`); larger ones are
/// rare enough to map on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const HEAP_BLOCK_LIMIT: i32 = 1 << 30;

/// Free memory glibc may keep at the top of its heap instead of returning it to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const KEPT_FREE: i32 = i32::MAX;

/// Whether the allocator now keeps freed blocks; `false` where the platform's allocator is not
/// glibc's (nothing changes there) or glibc refused a setting.
#[must_use = "tells whether the setting took effect"]
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    {
        // SAFETY: `mallopt` only changes two tuning parameters of glibc's allocator; it is
        // thread-safe and does not touch blocks already handed out.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, KEPT_FREE) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod tests {
    use super::keep_freed_memory;

    /// Minor page faults this thread has taken so far.
    fn page_faults() -> i64 {
        // SAFETY: `getrusage` fills the zeroed struct it is given and reads nothing else.
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut usage), 0);
            usage.ru_minflt
        }
    }

    /// A block larger than glibc's largest adaptive threshold (32 MiB), freed and allocated
    /// again, comes back without page faults. Without the settings it is a fresh mapping: one
    /// fault per 4 KiB page, 12 288 of them.
    #[test]
    fn a_freed_large_block_is_reused_without_page_faults() {
        assert!(keep_freed_memory(), "glibc refused the settings");
        let len = 48 << 20;
        drop(std::hint::black_box(vec![1u8; len]));
        let before = page_faults();
        let again = std::hint::black_box(vec![2u8; len]);
        let faults = page_faults() - before;
        assert_eq!(again[len - 1], 2);
        assert!(faults < 100, "{faults} page faults on reuse");
    }
}
