//! Every WGSL kernel the engine runs, compiled into the binary from
//! `shaders/`: one constant per kernel family, and `ALL` so that a test can
//! validate each file with naga without an adapter.

/// A WGSL source and the name it is labelled with.
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

macro_rules! shader {
    ($id:ident, $file:literal) => {
        pub const $id: Shader = Shader { name: $file, source: include_str!(concat!("../../../shaders/", $file)) };
    };
}

shader!(STEM, "stem.wgsl");
shader!(POINTWISE, "pointwise.wgsl");
shader!(DEPTHWISE, "depthwise.wgsl");
shader!(POOL, "pool.wgsl");
shader!(MOOD_HEAD, "mood_head.wgsl");
shader!(MOOD_CORRECTION, "mood_correction.wgsl");
shader!(TOPK, "topk.wgsl");
shader!(PEAK, "peak.wgsl");
shader!(CUES, "cues.wgsl");
shader!(FACES, "faces.wgsl");

pub const ALL: [&Shader; 10] =
    [&STEM, &POINTWISE, &DEPTHWISE, &POOL, &MOOD_HEAD, &MOOD_CORRECTION, &TOPK, &PEAK, &CUES, &FACES];
