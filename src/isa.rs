//! Which implementation of the hand-vectorised CPU kernels runs: the matrix
//! and depthwise kernels of the CPU engine and the top-k scan of the
//! matcher. Each kernel picks the fastest path this CPU has (`Isa::detect`);
//! naming one lets the tests check every path on any machine that can run
//! it, since the plain one is the whole CPU path where AVX2 is missing.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Plain loops, on any target.
    Scalar,
    /// x86-64 with AVX2 and FMA.
    Avx2,
}

impl Isa {
    /// The fastest path this CPU runs.
    pub fn detect() -> Isa {
        if Isa::Avx2.supported() { Isa::Avx2 } else { Isa::Scalar }
    }

    /// Whether this CPU can run the path.
    pub fn supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 => false,
        }
    }

    /// Every path this CPU runs, the plain one first.
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2].into_iter().filter(|isa| isa.supported()).collect()
    }
}
