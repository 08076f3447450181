//! Keeps large allocations out of malloc's arenas.
//!
//! glibc raises its mmap threshold to the size of the first large block
//! freed, so once a hashing slot's 19 MiB Argon2id block has been freed
//! (after it went unused, see `credentials::password`), later ones would
//! be carved from a thread's arena and stay resident after they are freed
//! too. With the threshold fixed at 1 MiB, each block is mapped when
//! allocated and returned to the OS when freed.

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
