//! The binary's global allocator: mimalloc, called as the C library intends.
//!
//! The `mimalloc` crate passes every request to `mi_malloc_aligned`, which
//! keeps a fast path only while the size class's page has free blocks ready.
//! Once it runs dry, a size that is not a power of two (a boxed replication
//! message's 96 bytes, say) goes to an over-allocating path for good, since
//! only plain `mi_malloc` collects the freed blocks back
//! (microsoft/mimalloc#889): a tenth of a heavy-fault sweep's allocations,
//! at three times the cost. Every mimalloc block is at least word-aligned, so
//! a request that asks no more (nearly all) goes to `mi_malloc`, as the
//! standard library's `System` does with `malloc`, and as mimalloc's own
//! `mi_realloc_aligned` does; larger alignments keep the aligned calls.
//!
//! The workspace's one `unsafe`: implementing `GlobalAlloc` cannot be done
//! without it.
#![allow(unsafe_code)]

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// What every block mimalloc hands out is aligned to, whatever its size.
const WORD: usize = std::mem::size_of::<usize>();

/// mimalloc, with plain calls wherever they give the alignment asked for.
pub struct Mimalloc;

// SAFETY: each method passes the layout's size (and alignment, where the plain
// call would not guarantee it) to the mimalloc function made for the request;
// mimalloc returns null on failure, as `GlobalAlloc` requires, and `mi_free`
// takes any block either kind of call returned.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls; no pointer is read or written here.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator returned.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a block this allocator returned, with its
        // layout; mimalloc keeps the alignment (and takes the plain path itself
        // for a word or less).
        unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast() }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn blocks_are_aligned_zeroed_and_keep_their_bytes_when_grown() {
        let a = Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 7, 8, 24, 96, 100, 4000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; every block is freed with its layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xAB, size);
                    let grown = a.realloc(p, layout, size * 3);
                    assert_eq!(
                        grown as usize % align,
                        0,
                        "grown: size {size} align {align}"
                    );
                    let kept = std::slice::from_raw_parts(grown, size);
                    assert!(kept.iter().all(|&b| b == 0xAB), "size {size} align {align}");
                    a.dealloc(grown, Layout::from_size_align(size * 3, align).unwrap());

                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed: size {size} align {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn a_size_class_run_dry_still_serves_from_its_own_blocks() {
        // More 96-byte blocks than a page holds, freed and taken again: the
        // aligned call would now over-allocate from the 112-byte class.
        let a = Mimalloc;
        let layout = Layout::from_size_align(96, 8).unwrap();
        for round in 0..3 {
            // SAFETY: a non-zero size; every block is freed with its layout.
            unsafe {
                let blocks: Vec<*mut u8> = (0..10_000).map(|_| a.alloc(layout)).collect();
                for &p in &blocks {
                    assert!(!p.is_null());
                    assert_eq!(p as usize % 8, 0);
                    assert_eq!(mi::mi_usable_size(p.cast()), 96, "round {round}");
                }
                for p in blocks {
                    a.dealloc(p, layout);
                }
            }
        }
    }
}
