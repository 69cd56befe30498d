//! Every WGSL kernel the engine runs, compiled into the binary from
//! `shaders/`: one constant per kernel family, and `ALL` so that a test can
//! validate each file with naga without an adapter.

use std::borrow::Cow;

/// A WGSL source and the name it is labelled with.
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

/// The type the model kernels store activations (and the 1x1 convolutions'
/// weights) in. Their sums are f32 either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    F32,
    /// Half the bytes to move and hold; needs the adapter's `SHADER_F16`.
    F16,
}

/// The line a shader with an f16 variant declares its storage type with.
const F32_ALIAS: &str = "alias Act = f32;";

impl Shader {
    /// Whether the shader stores `Act` and so has an f16 variant.
    pub fn has_storage_type(&self) -> bool {
        self.source.contains(F32_ALIAS)
    }

    /// The source with `Act` as `storage`. The f16 variant is the f32 file
    /// with one line changed and `enable f16;` put first, so the two
    /// variants cannot drift apart.
    pub fn source_for(&self, storage: Storage) -> Cow<'static, str> {
        match storage {
            Storage::F32 => Cow::Borrowed(self.source),
            Storage::F16 => {
                debug_assert!(self.has_storage_type(), "{} has no `{F32_ALIAS}` line", self.name);
                Cow::Owned(format!("enable f16;\n{}", self.source.replacen(F32_ALIAS, "alias Act = f16;", 1)))
            }
        }
    }
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
