//! The wgpu tests of this crate (`wgpu_backend.rs`, `fused_kernels.rs`, the fused-kernel unit
//! tests) are compiled with the `fused` feature only, and the host kernels serve burn's ndarray
//! backend only with `ndarray`. This test fails a test build without them, so those tests are
//! never left out unnoticed: `scripts/test.sh` builds with `--all-features`.

#[test]
fn the_test_build_has_every_backend() {
    assert!(
        std::hint::black_box(cfg!(feature = "fused") && cfg!(feature = "ndarray")),
        "the wgpu and ndarray tests are compiled only with their features: run the tests as \
         scripts/test.sh does (cargo test --release --workspace --all-features)"
    );
}
