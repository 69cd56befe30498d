//! What the JSON report (`--json`) says about where it was measured: the
//! machine (CPU model, cores, the CPU kernels' instruction set) and the GPU
//! adapter with the limits that shape its kernels.

use serde::Serialize;

use crate::engine::gpu::Gpu;
use crate::engine::isa::Isa;

#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    /// The CPU kernels' instruction set.
    pub simd: &'static str,
    pub os: &'static str,
    pub arch: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Adapter {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    /// Whether the GPU figures could be timed with timestamp queries.
    pub timestamp_queries: bool,
}

pub(super) fn machine() -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        simd: match Isa::detect() {
            Isa::Avx512 => "avx512f",
            Isa::Avx2 => "avx2+fma",
            Isa::Scalar => "scalar",
        },
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
    }
}

pub(super) fn adapter(g: &Gpu) -> Adapter {
    Adapter {
        name: g.info.name.clone(),
        backend: format!("{:?}", g.info.backend),
        device_type: format!("{:?}", g.info.device_type),
        driver: g.info.driver.clone(),
        driver_info: g.info.driver_info.clone(),
        max_storage_buffer_binding_size: g.max_binding(),
        max_compute_workgroup_storage_size: g.limits.max_compute_workgroup_storage_size,
        max_compute_invocations_per_workgroup: g.limits.max_compute_invocations_per_workgroup,
        timestamp_queries: g.has_timestamps(),
    }
}
