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
    /// x86-64 with AVX-512F (and AVX2): the top-k scan takes a 16-track
    /// panel per register and the model's matrix kernel a 16-column panel;
    /// its depthwise kernel runs the AVX2 path (measured no faster at 512
    /// bits).
    Avx512,
}

impl Isa {
    /// The fastest path this CPU runs.
    pub fn detect() -> Isa {
        [Isa::Avx512, Isa::Avx2].into_iter().find(|isa| isa.supported()).unwrap_or(Isa::Scalar)
    }

    /// Whether this CPU can run the path.
    pub fn supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Isa::Avx2.supported() && std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => false,
        }
    }

    /// Every path this CPU runs, the plain one first.
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|isa| isa.supported()).collect()
    }
}
