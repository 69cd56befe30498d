//! The arithmetic the CPU engine's 1x1 convolutions run in. Everything else
//! (the stem, the depthwise convolutions, pooling and the classifier) stays
//! f32 at every precision: together they are about a fifth of the time and
//! the depthwise layers are the ones quantisation hurts most.

use super::quant;
use crate::engine::isa::Isa;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout: the path the torchvision-equal golden tests pin.
    F32,
    /// Per-channel int8 weights and per-pixel int8 activations, i32
    /// accumulation (`quant`): AVX-512 VNNI where the CPU has it, else AVX2.
    Int8,
    /// Weights and activations rounded to bfloat16, f32 sums (`bf16`):
    /// AVX-512 BF16 where the CPU has it.
    Bf16,
    /// The GPU engine with activations and 1x1 weights stored as f16 and
    /// f32 sums, on adapters with `SHADER_F16`. Not a CPU precision: the
    /// backend runs the CPU's own default where it is asked of a CPU.
    F16,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }

    pub fn parse(s: &str) -> Option<Precision> {
        match s {
            "f32" => Some(Precision::F32),
            "int8" => Some(Precision::Int8),
            "bf16" => Some(Precision::Bf16),
            "f16" => Some(Precision::F16),
            _ => None,
        }
    }

    /// What `auto` means on this CPU: int8 where a fast int8 kernel runs
    /// (AVX-512 VNNI, or AVX2, whose int8 product runs the int8 layers
    /// 1.11-1.26x faster than its f32 one and gives the same numbers as VNNI's, so
    /// the accuracy measured in models/README.md holds), f32 elsewhere,
    /// where int8 would only have the plain loop.
    pub fn auto() -> Precision {
        if quant::fastest() != Isa::Scalar { Precision::Int8 } else { Precision::F32 }
    }
}
