//! Keeps large allocations out of malloc's arenas.
//!
//! glibc raises its mmap threshold to the size of the first large block
//! freed, so every later 19 MiB Argon2id block is carved from a thread's
//! arena and stays resident after use, one per blocking thread that ever
//! hashed. `make bench` measured 42 MiB idle and 170–450 MiB after a
//! sign-in flood that way; with the threshold fixed at 1 MiB, 23 MiB and
//! 52 MiB: large blocks are mapped for their use and returned on free.

/// Call first thing in `main`, before any thread starts.
#[allow(unsafe_code)]
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists
    // yet to race with it. A refusal (return value 0) just keeps the default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
