//! GPU context: the adapter, device and queue every GPU kernel shares, its
//! real limits, and a few buffer helpers. Created once per run and passed by
//! reference; kernels never open devices of their own.
//!
//! Which adapter a run uses is the backend's policy (`crate::engine::backend`);
//! this module only lists adapters and opens the one it is given.
//!
//! wgpu reports validation errors through a callback that panics by default.
//! Setup runs inside error scopes, and the device's uncaptured-error handler
//! records anything else, so every failure reaches the caller as
//! `Error::Gpu` or `Error::Device`, never as a panic.

pub mod peak;
pub mod shaders;
pub mod timestamps;

use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};

/// An open device and what it can do.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// The adapter's own limits, all requested.
    pub limits: wgpu::Limits,
    /// Errors wgpu raised outside an error scope, oldest first.
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// Pass timing for the benchmark, where the adapter has timestamp queries.
    timestamps: Option<timestamps::Timestamps>,
}

/// Every adapter the enabled backends (narrowed by `WGPU_BACKEND`) offer.
pub fn adapters() -> Vec<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .filter(|a| a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS))
        .collect()
}

/// An adapter in one line: name, backend, kind and driver.
pub fn describe_info(info: &wgpu::AdapterInfo) -> String {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        wgpu::DeviceType::VirtualGpu => "virtual GPU",
        wgpu::DeviceType::Cpu => "software",
        wgpu::DeviceType::Other => "other",
    };
    let driver = if info.driver_info.is_empty() { info.driver.clone() } else { info.driver_info.clone() };
    format!("{} ({:?}, {kind}{}{driver})", info.name, info.backend, if driver.is_empty() { "" } else { ", " })
}

impl Gpu {
    /// Opens `adapter` with every limit it has.
    pub fn open(adapter: &wgpu::Adapter) -> Result<Gpu> {
        let info = adapter.get_info();
        // Every limit the adapter really has (binding sizes, workgroup
        // storage): the kernels size their batches and tiles from these.
        let limits = adapter.limits();
        // Timestamp queries, where the adapter has them, for `pixtape bench`;
        // f16 in shaders and storage buffers, for the model's f16 path.
        let features = adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("pixtape"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::device(format!("{}: cannot open the device", describe_info(&info)), e))?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.to_string());
        }));
        let lost = Arc::clone(&uncaptured);
        device.set_device_lost_callback(move |reason, message| {
            lost.lock().unwrap_or_else(|p| p.into_inner()).push(format!("device lost ({reason:?}): {message}"));
        });
        let timestamps =
            features.contains(wgpu::Features::TIMESTAMP_QUERY).then(|| timestamps::Timestamps::new(&device, &queue));
        Ok(Gpu { device, queue, info, limits, uncaptured, timestamps })
    }

    /// The adapter, for logs and manifests.
    pub fn describe(&self) -> String {
        describe_info(&self.info)
    }

    /// Whether kernels may store and compute f16 (`SHADER_F16`).
    pub fn has_f16(&self) -> bool {
        self.device.features().contains(wgpu::Features::SHADER_F16)
    }

    /// Largest buffer one storage binding may cover.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// Runs `f` (pipeline or buffer creation) and turns any validation or
    /// out-of-memory error it raises into `Error::Device`.
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        match v.or(o) {
            Some(e) => Err(Error::device(what, e)),
            None => Ok(value),
        }
    }

    /// Fails with the first error wgpu reported outside a scope, if any.
    pub fn check(&self) -> Result<()> {
        let mut errors = self.uncaptured.lock().unwrap_or_else(|p| p.into_inner());
        match errors.drain(..).next() {
            Some(e) => Err(Error::Gpu(e)),
            None => Ok(()),
        }
    }

    /// A compute pipeline from a registered shader, with override constants.
    pub fn pipeline(
        &self,
        shader: &shaders::Shader,
        entry: &str,
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        self.pipeline_as(shader, shaders::Storage::F32, entry, constants)
    }

    /// The same, for the variant of `shader` that stores `storage`; an f16
    /// variant on an adapter without `SHADER_F16` is an error, not a panic.
    pub fn pipeline_as(
        &self,
        shader: &shaders::Shader,
        storage: shaders::Storage,
        entry: &str,
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        if storage == shaders::Storage::F16 && !self.has_f16() {
            return Err(Error::Gpu(format!("{}: the adapter has no f16 shaders (SHADER_F16)", self.describe())));
        }
        self.scoped(&format!("{}::{entry}", shader.name), || {
            let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(shader.name),
                source: wgpu::ShaderSource::Wgsl(shader.source_for(storage)),
            });
            self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&format!("{}::{entry}", shader.name)),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions { constants, ..Default::default() },
                cache: None,
            })
        })
    }

    /// A bind group of `(binding, resource)` pairs for group 0 of
    /// `pipeline`'s layout (derived from its shader).
    pub fn bind_group(
        &self,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        resources: Vec<(u32, wgpu::BindingResource)>,
    ) -> Result<wgpu::BindGroup> {
        let entries: Vec<wgpu::BindGroupEntry> =
            resources.into_iter().map(|(binding, resource)| wgpu::BindGroupEntry { binding, resource }).collect();
        self.scoped(label, || {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(label),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        })
    }

    /// A read-only storage buffer holding `data`.
    pub fn storage<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
        // A binding may not be empty.
        let bytes: &[u8] = if data.is_empty() { &[0; 16] } else { bytemuck::cast_slice(data) };
        self.scoped(label, || {
            self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            })
        })
    }

    /// An uninitialised buffer of `bytes` (rounded up to 16) for `usage`.
    pub fn buffer(&self, label: &str, bytes: u64, usage: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        self.scoped(label, || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(16).next_multiple_of(16),
                usage,
                mapped_at_creation: false,
            })
        })
    }

    /// A storage buffer kernels write and results are copied out of.
    pub fn scratch(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        use wgpu::BufferUsages as U;
        self.buffer(label, bytes, U::STORAGE | U::COPY_SRC | U::COPY_DST)
    }

    /// A host-visible buffer results are copied into and read from.
    pub fn readback(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        self.buffer(label, bytes, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST)
    }

    /// Waits for `submission`, maps `bytes` of `buffer` and hands them to
    /// `read`; unmaps afterwards whatever happens.
    pub fn read_mapped<R>(
        &self,
        buffer: &wgpu::Buffer,
        bytes: u64,
        submission: wgpu::SubmissionIndex,
        read: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let slice = buffer.slice(..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait { submission_index: Some(submission), timeout: None })
            .map_err(|e| Error::device("waiting for the GPU", e))?;
        let mapped = rx.recv().map_err(|_| Error::Gpu("buffer mapping was dropped".into()))?;
        mapped.map_err(|e| Error::device("reading results back", e))?;
        let result = {
            let view = slice.get_mapped_range().map_err(|e| Error::device("reading results back", e))?;
            read(&view)
        };
        buffer.unmap();
        self.check()?;
        Ok(result)
    }
}

/// Workgroups for `threads` invocations of a `size`-wide kernel whose
/// invocations loop with a grid stride, clamped to the dispatch limit.
pub fn grid(threads: u64, size: u32, limits: &wgpu::Limits) -> u32 {
    threads.div_ceil(size as u64).clamp(1, limits.max_compute_workgroups_per_dimension as u64) as u32
}

/// Uniform blocks bound at offsets into one buffer must start on this
/// boundary (256 on every adapter wgpu supports, but ask).
pub fn uniform_stride(limits: &wgpu::Limits, size: usize) -> u64 {
    (size as u64).next_multiple_of(limits.min_uniform_buffer_offset_alignment as u64)
}

/// The `index`th uniform block of `size` bytes in a buffer of blocks
/// `stride` bytes apart.
pub fn uniform_slot(buffer: &wgpu::Buffer, index: usize, stride: u64, size: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: index as u64 * stride,
        size: std::num::NonZeroU64::new(size),
    })
}
