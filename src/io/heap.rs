//! Giving freed heap memory back to the OS. glibc's allocator returns memory to the kernel only
//! from the top of each heap; the pages of memory freed further down stay resident. A burst of
//! negotiations (thousands of tunnels coming up at once, each with its Diffie-Hellman and
//! decoding work) leaves many such pages behind: [`release_free_memory`] hands them back.

/// Returns the free pages of every malloc arena to the OS (`malloc_trim(0)`; glibc only, a
/// no-op elsewhere). Costs a walk over the heap: call it after bursts, not per packet.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own arenas; it takes no pointers
    // from us and is thread-safe (it locks each arena).
    unsafe {
        libc::malloc_trim(0);
    }
}
