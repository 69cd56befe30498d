//! Backend: where a run's model and matcher execute, and the policy behind
//! that choice, in one place. Which adapter `auto` takes, the batch size each
//! engine gets, when the matcher falls back to the CPU, and the one-line
//! notices that say so are all decided here; the binary only prints them.
//!
//! Which adapter: `WGPU_BACKEND` (for example `vulkan`) narrows the backends
//! and `WGPU_ADAPTER_NAME` picks an adapter by a case-insensitive part of its
//! name, as in wgpu's own tools. Otherwise the best hardware adapter wins:
//! discrete, then integrated, then virtual. Software rasterisers (Mesa's
//! llvmpipe/lavapipe, WARP, SwiftShader) run the real shaders but far slower
//! than the CPU engine, so `auto` passes them over and only `gpu` (or naming
//! one in `WGPU_ADAPTER_NAME`) uses them.

use serde::Serialize;

use crate::engine::faces::{FaceEngine, cpu::CpuFaces, gpu::GpuFaces, nets::FaceNets};
use crate::engine::gpu::shaders::Storage;
use crate::engine::gpu::{self, Gpu};
use crate::engine::model::precision::Precision;
use crate::engine::model::{Engine, MobileNetV2, cpu::PendingCpuEngine, gpu::GpuEngine};
use crate::engine::mood::head::MoodHead;
use crate::engine::similarity::{CpuMatcher, Matcher, TrackMatrix, gpu::GpuMatcher};
use crate::error::{Error, Result};

/// Images per model batch on the CPU: enough to amortise the weight reads,
/// small enough that a batch's activations stay in cache-friendly sizes.
pub const CPU_BATCH: usize = 32;
/// Images per model batch on a GPU, where the adapter's binding limit allows.
pub const GPU_BATCH: usize = 128;

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

    pub fn parse(s: &str) -> Option<DeviceChoice> {
        match s {
            "auto" => Some(DeviceChoice::Auto),
            "gpu" => Some(DeviceChoice::Gpu),
            "cpu" => Some(DeviceChoice::Cpu),
            _ => None,
        }
    }
}

/// What was asked for and what came of it, for the manifest.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceReport {
    /// The device setting as asked (`auto`, `gpu`, `cpu`).
    pub requested: &'static str,
    /// What came of it, as told to the user at start.
    pub notice: String,
    /// The arithmetic the model ran in (`f32`, `int8`); set with the model.
    pub precision: &'static str,
}

/// The device a run uses: a GPU, or none (the CPU engine and matcher).
pub struct Backend {
    gpu: Option<Gpu>,
    report: DeviceReport,
    /// The CPU engine's arithmetic (`Precision::auto` unless set).
    precision: Precision,
}

impl Backend {
    /// Opens the device `choice` asks for. `Cpu` opens nothing; `Auto` falls
    /// back to the CPU with a notice saying why; `Gpu` fails with a message
    /// that says what was looked for and how to get a driver.
    pub fn open(choice: DeviceChoice) -> Result<Backend> {
        if choice == DeviceChoice::Cpu {
            return Ok(Backend::cpu());
        }
        let requested = choice.as_str();
        let adapters = gpu::adapters();
        let named = std::env::var("WGPU_ADAPTER_NAME").ok().filter(|s| !s.is_empty());
        let candidates: Vec<&wgpu::Adapter> = match &named {
            Some(name) => {
                let name = name.to_lowercase();
                adapters.iter().filter(|a| a.get_info().name.to_lowercase().contains(&name)).collect()
            }
            // An explicit name is the user's call; otherwise `auto` wants real hardware.
            None => adapters.iter().filter(|a| choice == DeviceChoice::Gpu || !is_software(&a.get_info())).collect(),
        };
        match candidates.into_iter().max_by_key(|a| rank(a.get_info().device_type)) {
            Some(adapter) => {
                let gpu = Gpu::open(adapter)?;
                let notice = format!("running on the GPU: {}", gpu.describe());
                let report = DeviceReport { requested, notice, precision: "f32" };
                Ok(Backend { gpu: Some(gpu), report, precision: Precision::auto() })
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
                    Err(Error::setting("device", format!("gpu: {why}; {hint}, or choose the CPU")))
                } else {
                    Ok(Backend {
                        gpu: None,
                        report: DeviceReport {
                            requested,
                            notice: format!("{why}; running on the CPU"),
                            precision: "f32",
                        },
                        precision: Precision::auto(),
                    })
                }
            }
        }
    }

    /// The CPU engine and matcher, without looking for an adapter.
    pub fn cpu() -> Backend {
        Backend {
            gpu: None,
            report: DeviceReport { requested: "cpu", notice: "running on the CPU, as asked".into(), precision: "f32" },
            precision: Precision::auto(),
        }
    }

    /// Sets the model's arithmetic. A GPU runs f16 where asked and offered,
    /// f32 otherwise; the CPU runs int8, bf16 or f32, and its own default
    /// where f16 is asked. A request that cannot be met says so in the
    /// notice.
    pub fn with_precision(mut self, precision: Precision) -> Backend {
        self.precision = precision;
        let runs = self.precision();
        if precision == Precision::F16 && runs != Precision::F16 {
            let why = match &self.gpu {
                Some(gpu) => format!("{} has no f16 shaders (SHADER_F16)", gpu.describe()),
                None => "f16 is a GPU precision".into(),
            };
            self.report.notice = format!("{}; {why}, so the model runs {}", self.report.notice, runs.as_str());
        }
        self
    }

    /// The arithmetic the model runs in: f16 or f32 on a GPU, the CPU
    /// engine's setting on the CPU.
    pub fn precision(&self) -> Precision {
        match (&self.gpu, self.precision) {
            (Some(gpu), Precision::F16) if gpu.has_f16() => Precision::F16,
            (Some(_), _) => Precision::F32,
            (None, Precision::F16) => Precision::auto(),
            (None, p) => p,
        }
    }

    /// The open GPU, if the run uses one.
    pub fn gpu(&self) -> Option<&Gpu> {
        self.gpu.as_ref()
    }

    /// What was asked for and what came of it.
    pub fn report(&self) -> &DeviceReport {
        &self.report
    }

    /// The model engine with the bundled mood head, and the run's batch
    /// size settled: `requested`, or `CPU_BATCH`/`GPU_BATCH`, within what the
    /// engine takes. Engines keep the weights in their own layouts, so the
    /// parsed model (14 MB) is dropped as soon as the engine exists.
    pub fn model(&self, requested: Option<usize>) -> Result<Model<'_>> {
        self.model_with(requested, MoodHead::embedded()?.clone())
    }

    /// The same, with the mood head `head` (a profile's, say).
    pub fn model_with(&self, requested: Option<usize>, head: MoodHead) -> Result<Model<'_>> {
        self.model_at(requested, head, self.precision())
    }

    /// The same at `precision` (one this backend runs: see `precision`),
    /// whatever the backend was set to: for the benchmark.
    pub fn model_at(&self, requested: Option<usize>, head: MoodHead, precision: Precision) -> Result<Model<'_>> {
        let wanted = requested.unwrap_or(if self.gpu.is_some() { GPU_BATCH } else { CPU_BATCH }).max(1);
        let engine: Box<dyn Engine + '_> = match &self.gpu {
            Some(gpu) => {
                let storage = if precision == Precision::F16 { Storage::F16 } else { Storage::F32 };
                let projection = head.feature_projection();
                Box::new(GpuEngine::with_storage(gpu, &MobileNetV2::embedded()?, &projection, wanted, storage)?)
            }
            // Built on its own thread while the run starts (see PendingCpuEngine).
            None => Box::new(PendingCpuEngine::spawn(head.feature_projection(), precision)),
        };
        let batch = wanted.min(engine.max_batch()).max(1);
        let notice = (batch < wanted)
            .then(|| format!("batches of {batch} images, the most this adapter's binding limits allow"));
        let faces = self.faces()?;
        let device = DeviceReport { precision: precision.as_str(), ..self.report.clone() };
        Ok(Model { engine, batch, device, notice, head, faces })
    }

    /// The face networks on this backend's device: the model's device, so
    /// a GPU run finds faces on the GPU too.
    pub fn faces(&self) -> Result<Box<dyn FaceEngine + '_>> {
        let nets = FaceNets::embedded()?;
        Ok(match &self.gpu {
            Some(gpu) => Box::new(GpuFaces::new(gpu, nets)?),
            None => Box::new(CpuFaces::new(nets)),
        })
    }

    /// The matcher for `tracks`, answering `k` hits per query. A `k` beyond
    /// what the GPU kernel holds in workgroup memory (long playlists) is
    /// matched on the CPU, with a notice.
    pub fn matcher<'a>(&'a self, tracks: &'a TrackMatrix, k: usize) -> Result<(Box<dyn Matcher + 'a>, Option<String>)> {
        if let Some(gpu) = &self.gpu {
            let m = GpuMatcher::new(gpu, tracks)?;
            if k <= m.max_k() {
                return Ok((Box::new(m), None));
            }
            let notice = format!(
                "{k} candidates per playlist exceed the GPU top-k's {} on this adapter; matching on the CPU",
                m.max_k()
            );
            return Ok((Box::new(CpuMatcher { tracks }), Some(notice)));
        }
        Ok((Box::new(CpuMatcher { tracks }), None))
    }
}

/// A model engine and the batch size a run feeds it.
pub struct Model<'g> {
    pub engine: Box<dyn Engine + 'g>,
    /// Images per batch: at least 1 and at most what the engine takes.
    pub batch: usize,
    /// The device it runs on, for the manifest.
    pub device: DeviceReport,
    /// Said when the batch is smaller than asked.
    pub notice: Option<String>,
    /// The learned correction of each picture's mood; the engine computes
    /// its feature term.
    pub head: MoodHead,
    /// The face networks, on the same device as the model.
    pub faces: Box<dyn FaceEngine + 'g>,
}

/// Mesa's Vulkan drivers probe the window system when an instance is made,
/// and libwayland prints `error: XDG_RUNTIME_DIR is invalid or not set` on
/// a machine without a desktop session, which reads like pixtape failing.
/// libwayland only wants an absolute path there (it then finds no display
/// socket and gives up quietly); pixtape draws nothing, so the temporary
/// folder does, and nothing is written to it.
///
/// # Safety
/// Changes the process environment: call it before any other thread starts.
pub unsafe fn quiet_driver_probe() {
    let set = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_absolute());
    let dir = std::env::temp_dir();
    if !set && dir.is_absolute() {
        // SAFETY: the caller guarantees no other thread reads the environment.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir) };
    }
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
    let found: Vec<String> = adapters.iter().map(|a| gpu::describe_info(&a.get_info())).collect();
    match (named, found.is_empty()) {
        (_, true) => format!("no GPU adapter found (looked for {backends} adapters with compute shaders)"),
        (Some(name), false) => {
            format!("no adapter's name contains WGPU_ADAPTER_NAME={name:?} (found: {})", found.join("; "))
        }
        (None, false) => format!(
            "no hardware GPU found, only {} (a software renderer, slower than the CPU engine; \
             the `gpu` device uses it anyway)",
            found.join("; ")
        ),
    }
}
