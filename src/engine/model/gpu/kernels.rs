//! The compiled model kernels, and `Work`: which kernel one dispatch runs,
//! on which shapes. What a kernel's uniform block holds and how many
//! workgroups it takes live in its launcher, beside its WGSL (`stem.rs`,
//! `pointwise.rs`, `depthwise.rs`, `pool.rs`, `mood_head.rs`,
//! `mood_correction.rs`); this file
//! only routes to them.

use super::depthwise::Depthwise;
use super::pointwise::{Fused, Pointwise};
use super::pool::Pool;
use crate::engine::gpu::Gpu;
use crate::engine::gpu::shaders::{self, Storage};
use crate::error::Result;

/// One dispatch of one kernel, for a batch whose size comes with the call.
#[derive(Clone, Copy, Debug)]
pub(super) enum Work {
    Stem,
    Pointwise(Pointwise),
    /// The classifier: a pointwise product on the pooled features, which
    /// are f32 whatever the activations are stored in.
    Classifier(Pointwise),
    Depthwise(Depthwise),
    Pool(Pool),
    Mood,
    Correction,
}

impl Work {
    /// The uniform block of this dispatch for `images` images.
    pub(super) fn params(&self, images: usize) -> Vec<u8> {
        match self {
            Work::Stem => super::stem::params(images),
            Work::Pointwise(p) | Work::Classifier(p) => p.params(images),
            Work::Depthwise(d) => d.params(images),
            Work::Pool(p) => p.params(images),
            Work::Mood => super::mood_head::params(images),
            Work::Correction => super::mood_correction::params(images),
        }
    }

    /// Workgroups to dispatch; every kernel loops with a grid stride, so
    /// clamping to the dispatch limit is always safe.
    pub(super) fn workgroups(&self, images: usize, limits: &wgpu::Limits) -> (u32, u32) {
        match self {
            Work::Stem => super::stem::workgroups(images, limits),
            Work::Pointwise(p) | Work::Classifier(p) => p.workgroups(images, limits),
            Work::Depthwise(d) => d.workgroups(images, limits),
            Work::Pool(p) => p.workgroups(images, limits),
            Work::Mood => super::mood_head::workgroups(images, limits),
            Work::Correction => super::mood_correction::workgroups(images, limits),
        }
    }
}

/// The compiled kernels, built once per device; `one_off` adds a `run_*`
/// method per kernel, which the kernel tests call.
pub struct Kernels {
    /// What the layers from the stem to the pooling store activations in.
    storage: Storage,
    stem: wgpu::ComputePipeline,
    /// Indexed by `Fused`: none, ReLU6, residual.
    pointwise: [wgpu::ComputePipeline; 3],
    /// The f32 pointwise kernel, for the classifier.
    classifier: wgpu::ComputePipeline,
    depthwise: wgpu::ComputePipeline,
    pool: wgpu::ComputePipeline,
    mood: wgpu::ComputePipeline,
    correction: wgpu::ComputePipeline,
}

impl Kernels {
    /// The f32 kernels.
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Self::with_storage(gpu, Storage::F32)
    }

    /// The kernels with activations stored as `storage`.
    pub fn with_storage(gpu: &Gpu, storage: Storage) -> Result<Self> {
        let pointwise = super::pointwise::pipelines(gpu, storage)?;
        let classifier = match storage {
            Storage::F32 => pointwise[Fused::None as usize].clone(),
            Storage::F16 => super::pointwise::pipelines(gpu, Storage::F32)?[Fused::None as usize].clone(),
        };
        Ok(Kernels {
            storage,
            stem: gpu.pipeline_as(&shaders::STEM, storage, "main", &[])?,
            pointwise,
            classifier,
            depthwise: gpu.pipeline_as(&shaders::DEPTHWISE, storage, "main", &[])?,
            pool: gpu.pipeline_as(&shaders::POOL, storage, "main", &[])?,
            mood: gpu.pipeline(&shaders::MOOD_HEAD, "main", &[])?,
            correction: gpu.pipeline(&shaders::MOOD_CORRECTION, "main", &[])?,
        })
    }

    /// What activations are stored in.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    pub(super) fn pipeline(&self, work: &Work) -> &wgpu::ComputePipeline {
        match work {
            Work::Stem => &self.stem,
            Work::Pointwise(Pointwise { fused, .. }) => &self.pointwise[*fused as usize],
            Work::Classifier(_) => &self.classifier,
            Work::Depthwise(_) => &self.depthwise,
            Work::Pool(_) => &self.pool,
            Work::Mood => &self.mood,
            Work::Correction => &self.correction,
        }
    }
}

/// A bind group of `resources` at bindings 0, 1, 2, ..., the order every
/// model kernel declares them in.
pub(super) fn bind(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    resources: Vec<wgpu::BindingResource>,
) -> Result<wgpu::BindGroup> {
    gpu.bind_group(pipeline, label, (0..).zip(resources).collect())
}
