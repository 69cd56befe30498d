//! A 1x1 convolution of the CPU engine at its precision: the f32 matrix
//! kernel (`matmul`), int8 (`quant`) or bf16 (`bf16`), behind one call, with
//! the scratch the lower precisions round their activations into.

use super::bf16::{Bf16Weights, matmul_bf16};
use super::matmul::{Epilogue, PackedWeights, matmul};
use super::matmul_weights;
use super::precision::Precision;
use super::quant::{QuantRows, QuantWeights, matmul_int8};
use crate::engine::model::Conv;

/// A 1x1 convolution's weights, packed for the engine's precision.
pub(super) enum Pointwise {
    F32(PackedWeights),
    Int8(QuantWeights),
    Bf16(Bf16Weights),
}

impl Pointwise {
    /// `after_relu6`: the convolution's input is a ReLU6's output.
    pub(super) fn new(conv: &Conv, precision: Precision, after_relu6: bool) -> Self {
        let (k, n, w) = (conv.in_ch, conv.out_ch, matmul_weights(&conv.weight, conv.out_ch));
        match precision {
            Precision::F32 | Precision::F16 => Pointwise::F32(PackedWeights::new(k, n, &w, &conv.bias)),
            Precision::Int8 => Pointwise::Int8(QuantWeights::new(k, n, &w, &conv.bias, after_relu6)),
            Precision::Bf16 => Pointwise::Bf16(Bf16Weights::new(k, n, &w, &conv.bias)),
        }
    }

    pub(super) fn k(&self) -> usize {
        match self {
            Pointwise::F32(w) => w.k,
            Pointwise::Int8(w) => w.k,
            Pointwise::Bf16(w) => w.k,
        }
    }

    pub(super) fn n(&self) -> usize {
        match self {
            Pointwise::F32(w) => w.n,
            Pointwise::Int8(w) => w.n,
            Pointwise::Bf16(w) => w.n,
        }
    }

    /// `out = epi(a w + bias)` for `m` rows; `rows` is the lower
    /// precisions' scratch.
    pub(super) fn run(&self, a: &[f32], m: usize, epi: Epilogue, rows: &mut Scratch, out: &mut [f32]) {
        match self {
            Pointwise::F32(w) => matmul(a, m, w, epi, out),
            Pointwise::Int8(w) => matmul_int8(a, m, w, epi, &mut rows.int8, out),
            Pointwise::Bf16(w) => matmul_bf16(a, m, w, epi, &mut rows.bf16, out),
        }
    }
}

/// Activations rounded for one product, reused across calls.
#[derive(Default)]
pub(super) struct Scratch {
    int8: QuantRows,
    bf16: Vec<u16>,
}
