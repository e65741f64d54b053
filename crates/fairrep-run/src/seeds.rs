//! Every random stream of a run derives its seed from the config's `seed` here, in one place:
//! [`derive_seed`]`(base, stream)`. Each stream keeps the exact bits it had when its mix was
//! written inline, so results do not move; a test pins them.

/// A random stream of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The source heads' initial weights (the encoder takes the base seed itself).
    Heads,
    /// The order of the training rows, epoch after epoch (one ChaCha8 stream for the run).
    BatchOrder,
    /// The dropout masks of an optimiser step (1-based), so a run resumed at any step draws
    /// the same ones.
    Dropout(usize),
    /// The adversary's initial weights (adversarial penalty).
    Adversary,
    /// Task `t`'s bootstrap resamples, FERM's SVM and the post-processing's jitter.
    Task(usize),
    /// Task `t`'s MLP transfer head (initial weights and batch order).
    MlpHead(usize),
    /// The audit's MLP probe of group `g`.
    Probe(usize),
    /// The rows a whole-split penalty is measured on when the split is larger than the cap.
    EvalRows,
    /// A streamed run's shuffle of window `w` (0-based) of epoch `e` (1-based): `(e, w)`.
    Window(usize, usize),
}

/// The seed of `stream` in a run seeded with `base`.
pub fn derive_seed(base: u64, stream: Stream) -> u64 {
    match stream {
        Stream::Heads => base.wrapping_add(0x9E37_79B9_7F4A_7C15),
        Stream::BatchOrder => base ^ 0x05EE_D0FB_A7C4,
        Stream::Dropout(epoch) => base.wrapping_add(epoch as u64),
        Stream::Adversary => base ^ 0xAD7E_25A2_1A1F_0001,
        Stream::Task(t) => base ^ (t as u64).wrapping_mul(0x9E37_79B9),
        Stream::MlpHead(t) => base ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        Stream::Probe(g) => base ^ g as u64,
        Stream::EvalRows => base,
        Stream::Window(e, w) => (base ^ 0x3A1D_0B5E_0000_0000)
            .wrapping_add((e as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add((w as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bits of every stream, as they were before the mixes moved here: changing one moves
    /// every result of every seed.
    #[test]
    fn every_stream_keeps_its_bits() {
        let b = 7u64;
        assert_eq!(derive_seed(b, Stream::Heads), 0x9E37_79B9_7F4A_7C1C);
        assert_eq!(derive_seed(b, Stream::BatchOrder), 0x05EE_D0FB_A7C3);
        assert_eq!(derive_seed(b, Stream::Dropout(3)), 10);
        assert_eq!(derive_seed(b, Stream::Adversary), 0xAD7E_25A2_1A1F_0006);
        assert_eq!(derive_seed(b, Stream::Task(2)), 7 ^ 0x1_3C6E_F372);
        assert_eq!(
            derive_seed(b, Stream::MlpHead(1)),
            7 ^ 0x9E37_79B9_7F4A_7C15
        );
        assert_eq!(derive_seed(b, Stream::Probe(1)), 6);
        assert_eq!(derive_seed(b, Stream::EvalRows), 7);
        assert_eq!(
            derive_seed(b, Stream::Window(1, 2)),
            (7 ^ 0x3A1D_0B5E_0000_0000u64)
                .wrapping_add(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(0xC2B2_AE3D_27D4_EB4Fu64.wrapping_mul(2))
        );
        assert_eq!(derive_seed(u64::MAX, Stream::Dropout(1)), 0);
    }
}
