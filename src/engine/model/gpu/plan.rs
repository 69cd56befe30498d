//! The layer plan of the GPU engine: every layer from the stem to the head
//! as one dispatch, with its weights in the layout its kernel reads and the
//! activation buffers it reads and writes.

use super::depthwise::Depthwise;
use super::kernels::Work;
use super::pointwise::{Fused, Pointwise};
use crate::engine::model::{MobileNetV2, STEM_OUT, STEM_SIDE, depthwise_weights, matmul_weights, stem_weights};

/// Which activation buffer.
#[derive(Clone, Copy)]
pub(super) enum Act {
    X,
    Y,
    Expanded,
    Depthwise,
}

/// One layer of the network as the engine runs it.
pub(super) struct Step {
    pub label: String,
    pub work: Work,
    /// Input activation; `None` for the crops.
    pub src: Option<Act>,
    /// The block input a projection adds.
    pub residual: Option<Act>,
    pub dst: Act,
    /// Floats of the output per image.
    pub out_len: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// The layers from the stem to the head, with the buffers each reads and
/// writes: a block reads its input from X or Y and writes the other, so
/// consecutive blocks alternate.
pub(super) fn plan(model: &MobileNetV2) -> Vec<Step> {
    let mut steps = vec![Step {
        label: "stem".into(),
        work: Work::Stem,
        src: None,
        residual: None,
        dst: Act::X,
        out_len: STEM_SIDE * STEM_SIDE * STEM_OUT,
        weight: stem_weights(&model.stem),
        bias: model.stem.bias.clone(),
    }];
    let (mut cur, mut other) = (Act::X, Act::Y);
    let mut side = STEM_SIDE;
    for (i, b) in model.blocks.iter().enumerate() {
        let pixels = side * side;
        let mut dw_src = cur;
        if let Some(e) = &b.expand {
            steps.push(Step {
                label: format!("blocks.{i}.expand"),
                work: Work::Pointwise(Pointwise { pixels, k: e.in_ch, n: e.out_ch, fused: Fused::Relu6 }),
                src: Some(cur),
                residual: None,
                dst: Act::Expanded,
                out_len: pixels * e.out_ch,
                weight: matmul_weights(&e.weight, e.out_ch),
                bias: e.bias.clone(),
            });
            dw_src = Act::Expanded;
        }
        let d = &b.depthwise;
        let work = Depthwise { in_side: side, channels: d.out_ch, stride: d.stride };
        let out_side = work.out_side();
        steps.push(Step {
            label: format!("blocks.{i}.depthwise"),
            work: Work::Depthwise(work),
            src: Some(dw_src),
            residual: None,
            dst: Act::Depthwise,
            out_len: out_side * out_side * d.out_ch,
            weight: depthwise_weights(d),
            bias: d.bias.clone(),
        });
        side = out_side;
        let p = &b.project;
        let fused = if b.residual { Fused::Residual } else { Fused::None };
        steps.push(Step {
            label: format!("blocks.{i}.project"),
            work: Work::Pointwise(Pointwise { pixels: side * side, k: p.in_ch, n: p.out_ch, fused }),
            src: Some(Act::Depthwise),
            residual: b.residual.then_some(cur),
            dst: other,
            out_len: side * side * p.out_ch,
            weight: matmul_weights(&p.weight, p.out_ch),
            bias: p.bias.clone(),
        });
        std::mem::swap(&mut cur, &mut other);
    }
    let h = &model.head;
    steps.push(Step {
        label: "head".into(),
        work: Work::Pointwise(Pointwise { pixels: side * side, k: h.in_ch, n: h.out_ch, fused: Fused::Relu6 }),
        src: Some(cur),
        residual: None,
        dst: Act::Expanded,
        out_len: side * side * h.out_ch,
        weight: matmul_weights(&h.weight, h.out_ch),
        bias: h.bias.clone(),
    });
    steps
}
