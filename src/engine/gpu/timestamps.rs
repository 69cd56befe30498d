//! GPU time of compute passes, from timestamp queries, for the benchmark:
//! host wall time around a submission also counts the driver's work, the
//! submission and the read-back, where a timestamp pair at a pass's start
//! and end counts only the device.
//!
//! Timing is off except between `Gpu::start_timing` and `Gpu::stop_timing`,
//! so runs pay nothing for it. While it is on, each compute pass a kernel
//! opens reserves a pair of queries (`Gpu::reserve_timestamps`), writes
//! them at its start and end, and resolves them into its own slot of a
//! buffer (`Gpu::resolve_timestamps`); `stop_timing` waits for the device,
//! reads the slots back and sums the passes. Adapters without
//! `TIMESTAMP_QUERY` answer `None`, and the caller falls back to host time.

use std::sync::Mutex;

use crate::error::{Error, Result};

/// Passes one timing window can hold; more (a long end-to-end run) make
/// the window answer `None`.
pub const CAPACITY: u32 = 1024;
/// Bytes between two passes' resolved pairs: resolving must land on a
/// multiple of this (wgpu's `QUERY_RESOLVE_BUFFER_ALIGNMENT`).
const SLOT: u64 = wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT;

pub(super) struct Timestamps {
    set: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    read: wgpu::Buffer,
    /// Nanoseconds per timestamp tick.
    period: f64,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    on: bool,
    used: u32,
    overflow: bool,
}

impl Timestamps {
    pub(super) fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        let bytes = CAPACITY as u64 * SLOT;
        Timestamps {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("pass timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * CAPACITY,
            }),
            resolved: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("pass timestamps, resolved"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            read: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("pass timestamps, read back"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            period: queue.get_timestamp_period() as f64,
            window: Mutex::new(Window::default()),
        }
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl super::Gpu {
    /// Whether this adapter times passes with timestamp queries.
    pub fn has_timestamps(&self) -> bool {
        self.timestamps.is_some()
    }

    /// Opens a timing window; false when the adapter cannot time passes.
    pub fn start_timing(&self) -> bool {
        let Some(ts) = &self.timestamps else { return false };
        *ts.window() = Window { on: true, used: 0, overflow: false };
        true
    }

    /// A pair of queries for the next compute pass, while a window is open.
    pub fn reserve_timestamps(&self) -> Option<u32> {
        let ts = self.timestamps.as_ref()?;
        let mut w = ts.window();
        if !w.on {
            return None;
        }
        if w.used == CAPACITY {
            w.overflow = true;
            return None;
        }
        w.used += 1;
        Some(w.used - 1)
    }

    /// The timestamp writes of a pass that reserved `pair`.
    pub fn timestamp_writes(&self, pair: u32) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        self.timestamps.as_ref().map(|ts| wgpu::ComputePassTimestampWrites {
            query_set: &ts.set,
            beginning_of_pass_write_index: Some(2 * pair),
            end_of_pass_write_index: Some(2 * pair + 1),
        })
    }

    /// Resolves a finished pass's pair into its slot; record after the pass.
    pub fn resolve_timestamps(&self, encoder: &mut wgpu::CommandEncoder, pair: u32) {
        if let Some(ts) = &self.timestamps {
            encoder.resolve_query_set(&ts.set, 2 * pair..2 * pair + 2, &ts.resolved, pair as u64 * SLOT);
        }
    }

    /// Closes the window: waits for the device and returns the seconds the
    /// window's passes took on it, summed. `None` without timestamps, when
    /// no pass was timed, or when more passes ran than a window holds.
    pub fn stop_timing(&self) -> Result<Option<f64>> {
        let Some(ts) = &self.timestamps else { return Ok(None) };
        let Window { used, overflow, .. } = std::mem::take(&mut *ts.window());
        if used == 0 || overflow {
            return Ok(None);
        }
        let bytes = (used as u64 - 1) * SLOT + 16;
        let mut encoder =
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("pass timestamps") });
        encoder.copy_buffer_to_buffer(&ts.resolved, 0, &ts.read, 0, bytes);
        let submission = self.queue.submit([encoder.finish()]);
        let ticks = self.read_mapped(&ts.read, bytes, submission, |b| {
            (0..used as usize)
                .map(|i| {
                    let pair: &[u64] = bytemuck::cast_slice(&b[i * SLOT as usize..i * SLOT as usize + 16]);
                    pair[1].saturating_sub(pair[0])
                })
                .sum::<u64>()
        })?;
        if ts.period <= 0.0 {
            return Err(Error::Gpu("the adapter reports a timestamp period of zero".into()));
        }
        Ok(Some(ticks as f64 * ts.period * 1e-9))
    }
}
