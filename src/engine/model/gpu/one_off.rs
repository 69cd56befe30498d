//! One-off dispatches of each model kernel on data given by the caller:
//! upload, dispatch once, read back. The kernel tests call them to check
//! each kernel against its CPU reference; the engine never does. Kernels
//! built with f16 storage take their activations and 1x1 weights rounded to
//! f16 and give their f16 outputs back as f32.

use super::depthwise::Depthwise;
use super::kernels::{Kernels, Work, bind};
use super::mood_head::class_table;
use super::pointwise::{Fused, Pointwise};
use super::pool::Pool;
use super::upload;
use crate::engine::gpu::Gpu;
use crate::engine::gpu::shaders::Storage;
use crate::engine::model::projection::{FeatureProjection, PROJECTION_OUTPUTS as OUTPUTS};
use crate::engine::model::{STEM_OUT, STEM_SIDE};
use crate::engine::mood::NUM_DIMS;
use crate::error::Result;

impl Kernels {
    /// Uploads, dispatches once, reads `out_len` values of type `out` back
    /// as f32: for tests. `inputs` are bound after the uniform block and
    /// before the output, in the order the kernel declares them.
    pub(super) fn run_once(
        &self,
        gpu: &Gpu,
        work: Work,
        images: usize,
        inputs: &[wgpu::Buffer],
        out_len: usize,
        out: Storage,
    ) -> Result<Vec<f32>> {
        let elem = if out == Storage::F16 { 2 } else { 4 };
        let bytes = (out_len * elem).next_multiple_of(4) as u64;
        let params = work.params(images);
        let uniform =
            gpu.buffer("params", params.len() as u64, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST)?;
        gpu.queue.write_buffer(&uniform, 0, &params);
        let dst = gpu.scratch("out", bytes)?;
        let readback = gpu.readback("readback", bytes)?;
        let mut buffers: Vec<wgpu::BindingResource> = vec![uniform.as_entire_binding()];
        buffers.extend(inputs.iter().map(|b| b.as_entire_binding()));
        buffers.push(dst.as_entire_binding());
        let bind_group = bind(gpu, self.pipeline(&work), "one-off", buffers)?;
        let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("one-off") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(self.pipeline(&work));
            pass.set_bind_group(0, &bind_group, &[]);
            let (x, y) = work.workgroups(images, &gpu.limits);
            pass.dispatch_workgroups(x, y, 1);
        }
        encoder.copy_buffer_to_buffer(&dst, 0, &readback, 0, bytes);
        let submission = gpu.queue.submit([encoder.finish()]);
        gpu.read_mapped(&readback, bytes, submission, |b| match out {
            Storage::F32 => bytemuck::cast_slice::<u8, f32>(b)[..out_len].to_vec(),
            Storage::F16 => {
                b.chunks_exact(2).take(out_len).map(|h| half::f16::from_le_bytes([h[0], h[1]]).to_f32()).collect()
            }
        })
    }

    /// An activation (or 1x1 weight) buffer as these kernels read it.
    fn activations(&self, gpu: &Gpu, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        upload(gpu, label, data, self.storage())
    }

    /// Stem on `images` crops (`images x 224 x 224 x 3` u8); weights as the
    /// GPU takes them (`stem_weights`). Returns NHWC `images x 112 x 112 x 32`.
    pub fn run_stem(&self, gpu: &Gpu, crops: &[u8], images: usize, weight: &[f32], bias: &[f32]) -> Result<Vec<f32>> {
        let inputs = [gpu.storage("crops", crops)?, gpu.storage("weight", weight)?, gpu.storage("bias", bias)?];
        self.run_once(gpu, Work::Stem, images, &inputs, images * STEM_SIDE * STEM_SIDE * STEM_OUT, self.storage())
    }

    /// `x [m x k] * weight [k x n] + bias`, then what `fused` says
    /// (`residual` is `[m x n]`, read only for `Fused::Residual`).
    #[allow(clippy::too_many_arguments)]
    pub fn run_matmul(
        &self,
        gpu: &Gpu,
        x: &[f32],
        m: usize,
        weight: &[f32],
        bias: &[f32],
        fused: Fused,
        residual: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let n = bias.len();
        let k = weight.len() / n.max(1);
        let inputs = [
            self.activations(gpu, "x", x)?,
            self.activations(gpu, "weight", weight)?,
            gpu.storage("bias", bias)?,
            self.activations(gpu, "residual", residual.unwrap_or(&[0.0; 4]))?,
        ];
        self.run_once(gpu, Work::Pointwise(Pointwise { pixels: m, k, n, fused }), 1, &inputs, m * n, self.storage())
    }

    /// Depthwise 3x3 over NHWC `images x side x side x channels`; weights
    /// `[tap][channel]`.
    #[allow(clippy::too_many_arguments)]
    pub fn run_depthwise(
        &self,
        gpu: &Gpu,
        x: &[f32],
        images: usize,
        side: usize,
        stride: usize,
        weight: &[f32],
        bias: &[f32],
    ) -> Result<Vec<f32>> {
        let inputs = [self.activations(gpu, "x", x)?, gpu.storage("weight", weight)?, gpu.storage("bias", bias)?];
        let work = Depthwise { in_side: side, channels: bias.len(), stride };
        let out = work.out_side();
        self.run_once(gpu, Work::Depthwise(work), images, &inputs, images * out * out * work.channels, self.storage())
    }

    /// Mean over the pixels of NHWC `images x pixels x channels`.
    pub fn run_pool(&self, gpu: &Gpu, x: &[f32], images: usize, channels: usize) -> Result<Vec<f32>> {
        let pixels = x.len() / (images * channels).max(1);
        let inputs = [self.activations(gpu, "x", x)?];
        self.run_once(gpu, Work::Pool(Pool { pixels, channels }), images, &inputs, images * channels, Storage::F32)
    }

    /// Semantic mood (`images x NUM_DIMS`) of `images x 1000` logits.
    pub fn run_mood(&self, gpu: &Gpu, logits: &[f32], images: usize) -> Result<Vec<f32>> {
        let inputs = [gpu.storage("logits", logits)?, gpu.storage("class moods", &class_table())?];
        self.run_once(gpu, Work::Mood, images, &inputs, images * NUM_DIMS, Storage::F32)
    }

    /// The feature term (`images x OUTPUTS`) of `projection` for `images x
    /// 1280` pooled features.
    pub fn run_mood_correction(
        &self,
        gpu: &Gpu,
        projection: &FeatureProjection,
        features: &[f32],
        images: usize,
    ) -> Result<Vec<f32>> {
        let inputs = [gpu.storage("features", features)?, gpu.storage("mood head", projection.table())?];
        self.run_once(gpu, Work::Correction, images, &inputs, images * OUTPUTS, Storage::F32)
    }
}
