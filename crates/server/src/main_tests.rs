//! Tests of the binary's own helpers: the THP mode line and the
//! allocator's size classes.

#[test]
fn thp_mode_is_the_bracketed_word() {
    assert!(super::thp_always("[always] madvise never\n"));
    assert!(!super::thp_always("always [madvise] never\n"));
    assert!(!super::thp_always(""));
}

/// jemalloc's own answer for a default-aligned request.
#[allow(unsafe_code)]
fn nallocx(size: usize) -> usize {
    // SAFETY: `nallocx` only computes a size class; sizes are non-zero.
    unsafe { tikv_jemalloc_sys::nallocx(size, 0) }
}

#[test]
fn size_classes_are_jemallocs() {
    for size in 1..=(1usize << 20) {
        assert_eq!(super::default_class(size), nallocx(size), "size {size}");
    }
    let mut size = 1usize << 20;
    while size <= 1 << 32 {
        for s in [
            size - 1,
            size,
            size + 1,
            size + size / 3,
            size + size / 2 + 7,
        ] {
            if s <= 1 << 32 {
                assert_eq!(super::default_class(s), nallocx(s), "size {s}");
            }
        }
        size <<= 1;
    }
    assert_eq!(super::class_size(24, 8), 32);
    assert_eq!(super::class_size(100, 64), nallocx_aligned(100, 64));
}

#[allow(unsafe_code)]
fn nallocx_aligned(size: usize, align: usize) -> usize {
    // SAFETY: as above, with a valid MALLOCX_ALIGN encoding.
    unsafe { tikv_jemalloc_sys::nallocx(size, align.trailing_zeros() as std::os::raw::c_int) }
}
