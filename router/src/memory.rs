//! Giving back to the system the memory a closed router freed.
//!
//! A router's connections hold SQLite's page caches, schemas and statements; closing them frees
//! several megabytes, which glibc's allocator keeps in its per-thread arenas, mapped and resident,
//! for later allocations of the same threads. [`Trim`] asks it to return what is free
//! (`malloc_trim`, which also releases the free pages inside each arena) once every connection of
//! a router is closed: a bot that opens a database again, or a test or benchmark that opens many
//! in one process, does not keep the memory of the ones it closed. Other allocators, and other C
//! libraries, are left alone.

#![allow(unsafe_code)]

/// Dropped last of a router: trims the allocator's free memory.
pub(crate) struct Trim;

impl Drop for Trim {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            unsafe extern "C" {
                /// glibc: releases free memory at the top of the heap and the free pages of every
                /// arena; returns 1 when it released any.
                fn malloc_trim(pad: usize) -> std::ffi::c_int;
            }
            // SAFETY: `malloc_trim` takes a size and only walks the allocator's own structures,
            // under its own locks; it is safe to call from any thread at any time.
            unsafe {
                malloc_trim(0);
            }
        }
    }
}
