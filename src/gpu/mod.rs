//! GPU context: the adapter, device and queue every GPU kernel shares, its
//! real limits, and a few buffer helpers. Created once per run and passed by
//! reference; kernels never open devices of their own.
//!
//! Which adapter: `WGPU_BACKEND` (for example `vulkan`) narrows the backends
//! and `WGPU_ADAPTER_NAME` picks an adapter by a case-insensitive part of its
//! name, as in wgpu's own tools. Otherwise the best hardware adapter wins:
//! discrete, then integrated, then virtual. Software rasterisers (Mesa's
//! llvmpipe/lavapipe, WARP, SwiftShader) run the real shaders but far slower
//! than the CPU engine, so `--device auto` passes them over and only
//! `--device gpu` (or naming one in `WGPU_ADAPTER_NAME`) uses them.
//!
//! wgpu reports validation errors through a callback that panics by default.
//! Setup runs inside error scopes, and the device's uncaptured-error handler
//! records anything else, so every failure reaches the caller as
//! `Error::Gpu`, never as a panic.

pub mod shaders;

use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};

/// Where the model and the matcher run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChoice {
    /// A hardware GPU when there is one, else the CPU.
    Auto,
    /// A GPU adapter (software ones included), or an error.
    Gpu,
    /// The CPU engine.
    Cpu,
}

impl DeviceChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Cpu => "cpu",
        }
    }
}

/// An open device and what it can do.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// The adapter's own limits, all requested.
    pub limits: wgpu::Limits,
    /// Errors wgpu raised outside an error scope, oldest first.
    uncaptured: Arc<Mutex<Vec<String>>>,
}

/// The outcome of `select`: a GPU or none, and a line for the user.
pub struct Selection {
    pub gpu: Option<Gpu>,
    pub notice: String,
}

/// Opens the device `choice` asks for. `Cpu` opens nothing; `Auto` falls
/// back to the CPU with a notice saying why; `Gpu` fails with a message that
/// says what was looked for and how to get a driver.
pub fn select(choice: DeviceChoice) -> Result<Selection> {
    if choice == DeviceChoice::Cpu {
        return Ok(Selection { gpu: None, notice: "running on the CPU (--device cpu)".into() });
    }
    let adapters = enumerate();
    let named = std::env::var("WGPU_ADAPTER_NAME").ok().filter(|s| !s.is_empty());
    let candidates: Vec<&wgpu::Adapter> = match &named {
        Some(name) => {
            let name = name.to_lowercase();
            adapters.iter().filter(|a| a.get_info().name.to_lowercase().contains(&name)).collect()
        }
        // An explicit name is the user's call; otherwise `auto` wants real hardware.
        None => adapters.iter().filter(|a| choice == DeviceChoice::Gpu || !is_software(&a.get_info())).collect(),
    };
    let best = candidates.into_iter().max_by_key(|a| rank(a.get_info().device_type));
    match best {
        Some(adapter) => {
            let gpu = Gpu::open(adapter)?;
            let notice = format!("running on the GPU: {}", gpu.describe());
            Ok(Selection { gpu: Some(gpu), notice })
        }
        None => {
            let why = no_adapter_reason(&adapters, named.as_deref());
            if choice == DeviceChoice::Gpu {
                let hint = if named.is_some() || !adapters.is_empty() {
                    "change or unset WGPU_ADAPTER_NAME"
                } else {
                    "install a Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers libvulkan1`, \
                     or your GPU vendor's driver) and check `vulkaninfo --summary`"
                };
                Err(Error::Gpu(format!("--device gpu: {why}; {hint}, or run with --device cpu")))
            } else {
                Ok(Selection { gpu: None, notice: format!("{why}; running on the CPU") })
            }
        }
    }
}

/// Every adapter the enabled backends (narrowed by `WGPU_BACKEND`) offer.
fn enumerate() -> Vec<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .filter(|a| a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS))
        .collect()
}

fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 1,
        wgpu::DeviceType::Cpu => 0,
    }
}

fn no_adapter_reason(adapters: &[wgpu::Adapter], named: Option<&str>) -> String {
    let backends = match std::env::var("WGPU_BACKEND") {
        Ok(b) if !b.is_empty() => format!("WGPU_BACKEND={b}"),
        _ => "Vulkan, Metal and DX12".to_string(),
    };
    let found: Vec<String> = adapters.iter().map(|a| describe_info(&a.get_info())).collect();
    match (named, found.is_empty()) {
        (_, true) => format!("no GPU adapter found (looked for {backends} adapters with compute shaders)"),
        (Some(name), false) => {
            format!("no adapter's name contains WGPU_ADAPTER_NAME={name:?} (found: {})", found.join("; "))
        }
        (None, false) => format!(
            "no hardware GPU found, only {} (a software renderer, slower than the CPU engine; \
             --device gpu uses it anyway)",
            found.join("; ")
        ),
    }
}

fn describe_info(info: &wgpu::AdapterInfo) -> String {
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
    fn open(adapter: &wgpu::Adapter) -> Result<Gpu> {
        let info = adapter.get_info();
        // Every limit the adapter really has (binding sizes, workgroup
        // storage): the kernels size their batches and tiles from these.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("pixtape"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Gpu(format!("{}: cannot open the device: {e}", describe_info(&info))))?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.to_string());
        }));
        let lost = Arc::clone(&uncaptured);
        device.set_device_lost_callback(move |reason, message| {
            lost.lock().unwrap_or_else(|p| p.into_inner()).push(format!("device lost ({reason:?}): {message}"));
        });
        Ok(Gpu { device, queue, info, limits, uncaptured })
    }

    /// The adapter, for logs and manifests.
    pub fn describe(&self) -> String {
        describe_info(&self.info)
    }

    /// Largest buffer one storage binding may cover.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// Runs `f` (pipeline or buffer creation) and turns any validation or
    /// out-of-memory error it raises into `Error::Gpu`.
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        match v.or(o) {
            Some(e) => Err(Error::Gpu(format!("{what}: {e}"))),
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
        self.scoped(&format!("{}::{entry}", shader.name), || {
            let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(shader.name),
                source: wgpu::ShaderSource::Wgsl(shader.source.into()),
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
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        let mapped = rx.recv().map_err(|_| Error::Gpu("buffer mapping was dropped".into()))?;
        mapped.map_err(|e| Error::Gpu(format!("reading results back: {e}")))?;
        let result = {
            let view = slice.get_mapped_range().map_err(|e| Error::Gpu(format!("reading results back: {e}")))?;
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
