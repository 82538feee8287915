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
//!
//! The kernels' output buffers are built here too: [`par_zeroed`] zeroes a buffer in parallel,
//! each task filling the chunk it then computes, and [`written_by`] skips the zeroing for a
//! kernel that writes every value anyway.

use std::mem::MaybeUninit;

use rayon::prelude::*;

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

/// A vector of `len` zeros (`T::default()`) written in parallel, `task` values per task; each
/// task then runs `fill(i, chunk)` on its chunk `i` (values `i·task..`) while the chunk is still
/// in that core's cache.
///
/// With freed blocks kept in the heap, `vec![0.0; len]` is no longer a fresh mapping the kernel
/// zeroes page by page but a `memset` on one core while the other threads wait, up to a
/// twentieth of a training step: this spreads it over the threads that use the buffer next.
pub(crate) fn par_zeroed<T, F>(len: usize, task: usize, fill: F) -> Vec<T>
where
    T: Copy + Default + Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let write = |i, chunk: &mut [MaybeUninit<T>]| fill(i, zero(chunk));
    #[allow(unsafe_code)]
    // SAFETY: `zero` writes every value of the chunk before `fill` sees it.
    unsafe {
        written_by(len, task, true, write)
    }
}

/// `len` values, chunk `i` of `task` values written by `write(i, chunk)`: in parallel over the
/// chunks when `parallel`, otherwise in order on this thread. Nothing is zeroed first, for
/// kernels that write every value of their output anyway (a zero fill of a large output is a
/// pass over memory of its own).
///
/// # Safety
///
/// `write` must initialise every value of the chunk it is given.
#[allow(unsafe_code)]
pub(crate) unsafe fn written_by<T, F>(len: usize, task: usize, parallel: bool, write: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, &mut [MaybeUninit<T>]) + Sync,
{
    let mut values = Vec::with_capacity(len);
    let chunks = &mut values.spare_capacity_mut()[..len];
    if parallel {
        let tasks = chunks.par_chunks_mut(task.max(1)).enumerate();
        tasks.for_each(|(i, chunk)| write(i, chunk));
    } else {
        for (i, chunk) in chunks.chunks_mut(task.max(1)).enumerate() {
            write(i, chunk);
        }
    }
    // SAFETY: the chunks cover `0..len` and the caller promises that `write` initialised each.
    unsafe { values.set_len(len) };
    values
}

/// `len` zeros written in parallel (see [`par_zeroed`]).
pub(crate) fn par_zeros<T: Copy + Default + Send>(len: usize, task: usize) -> Vec<T> {
    par_zeroed(len, task, |_, _| {})
}

/// Writes `T::default()` to every value of `chunk` and returns it as initialised.
fn zero<T: Copy + Default>(chunk: &mut [MaybeUninit<T>]) -> &mut [T] {
    for slot in chunk.iter_mut() {
        slot.write(T::default());
    }
    #[allow(unsafe_code)]
    // SAFETY: every value was written just above, and `MaybeUninit<T>` has `T`'s layout.
    unsafe {
        &mut *(chunk as *mut [MaybeUninit<T>] as *mut [T])
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

#[cfg(test)]
mod par_zeroed_tests {
    use super::{par_zeroed, par_zeros};

    /// Each chunk reaches `fill` as zeros, once, at its place: the ragged last chunk included.
    #[test]
    fn every_chunk_starts_at_zero_and_lands_in_place() {
        let (len, task) = (1000, 64);
        let values: Vec<f32> = par_zeroed(len, task, |i, chunk| {
            assert!(chunk.iter().all(|&v| v == 0.0), "chunk {i} not zeroed");
            assert_eq!(chunk.len(), task.min(len - i * task), "chunk {i}");
            for (j, v) in chunk.iter_mut().enumerate() {
                *v += (i * task + j) as f32;
            }
        });
        assert_eq!(values, (0..len).map(|k| k as f32).collect::<Vec<_>>());
        assert!(par_zeros::<u8>(0, 16).is_empty());
    }

    /// A block the heap hands back with old contents still comes out as zeros.
    #[test]
    fn a_reused_block_is_zeroed() {
        let len = 1 << 20;
        drop(std::hint::black_box(vec![7.0f32; len]));
        let values = par_zeros::<f32>(len, 1 << 14);
        assert_eq!(values.len(), len);
        assert!(values.iter().all(|&v| v == 0.0));
    }
}
