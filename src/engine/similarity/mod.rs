//! Similarity stage: exact top-k of image x track scores, never holding the
//! score matrix.
//!
//! Scores are dot products of similarity vectors (`mood::sim_vector`). The
//! track matrix is stored in panels of 16 tracks x `SIM_DIMS`, so the AVX2
//! kernel computes a 6-image x 16-track block in registers, compares it with
//! each image's current k-th best score, and only touches a heap for the
//! rare lanes that beat it. Tracks are split into chunks that run in
//! parallel with their own heaps, merged at the end; memory is the catalog
//! plus `k` hits per image per chunk, whatever the catalog's size.
//! With AVX-512F a panel row is one register and 12 images make a block
//! (`scan_avx512`). Without AVX2 a plain scalar scan does the same work; `top_k_with` runs a
//! chosen `Isa`, so that both are tested on any x86-64 machine.
//! `top_k_reference` is the plain version: score everything, sort. The GPU
//! matcher (`gpu`) runs the same scan as one fused WGSL kernel.

pub mod gpu;

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::engine::isa::Isa;
use crate::engine::mood::{SIM_DIMS, SimVector};

/// Tracks per panel of the track matrix.
pub const LANES: usize = 16;
/// Floats per panel.
pub const PANEL: usize = SIM_DIMS * LANES;
/// Images per register block.
const QB: usize = 6;
/// Panels per parallel chunk (65,536 tracks).
const CHUNK_PANELS: usize = 4096;

/// Track vectors in 16-track panels, `[panel][dim][lane]`, zero padded.
#[derive(Clone, Debug, Default)]
pub struct TrackMatrix {
    n: usize,
    panels: Vec<f32>,
}

impl TrackMatrix {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_vectors(vectors: &[SimVector]) -> Self {
        let mut m = TrackMatrix::new();
        vectors.iter().for_each(|v| m.push(v));
        m
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Room for `n` more tracks.
    pub fn reserve(&mut self, n: usize) {
        let panels = (self.n + n).div_ceil(LANES);
        self.panels.reserve((panels * PANEL).saturating_sub(self.panels.len()));
    }

    pub fn push(&mut self, v: &SimVector) {
        let (p, lane) = (self.n / LANES, self.n % LANES);
        if lane == 0 {
            self.panels.resize((p + 1) * PANEL, 0.0);
        }
        let panel = &mut self.panels[p * PANEL..(p + 1) * PANEL];
        for (o, x) in panel[lane..].iter_mut().step_by(LANES).zip(v) {
            *o = *x;
        }
        self.n += 1;
    }

    pub fn vector(&self, i: usize) -> SimVector {
        let (p, lane) = (i / LANES, i % LANES);
        std::array::from_fn(|d| self.panels[p * PANEL + d * LANES + lane])
    }

    /// `n` tracks whose vectors `vector(i)` gives, built panel by panel on
    /// all cores.
    pub fn build(n: usize, vector: impl Fn(usize) -> SimVector + Sync) -> Self {
        use rayon::prelude::*;
        let mut panels = vec![0.0f32; n.div_ceil(LANES) * PANEL];
        panels.par_chunks_mut(PANEL).enumerate().for_each(|(p, panel)| {
            for lane in 0..LANES.min(n - p * LANES) {
                for (d, x) in vector(p * LANES + lane).iter().enumerate() {
                    panel[d * LANES + lane] = *x;
                }
            }
        });
        TrackMatrix { n, panels }
    }

    /// The raw panel storage (GPU upload).
    pub fn panels(&self) -> &[f32] {
        &self.panels
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.panels.len() * 4
    }
}

/// One entry of a top-k list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub track: u32,
    pub score: f32,
}

/// Heap entry ordered so that the *worst* hit is the maximum: lower score is
/// worse, and on equal scores the higher track index is worse (so results
/// are deterministic: ties go to the earlier track).
#[derive(Clone, Copy, PartialEq)]
struct Worst(Hit);
impl Eq for Worst {}
impl Ord for Worst {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.score.total_cmp(&self.0.score).then(self.0.track.cmp(&o.0.track))
    }
}
impl PartialOrd for Worst {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// The best `k` hits seen so far.
struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK { k, heap: BinaryHeap::with_capacity(k + 1) }
    }
    /// Scores below this cannot enter.
    fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |w| w.0.score)
        }
    }
    fn offer(&mut self, h: Hit) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Worst(h));
        } else if let Some(mut top) = self.heap.peek_mut()
            && Worst(h) < *top
        {
            *top = Worst(h);
        }
    }
    fn into_sorted(self) -> Vec<Hit> {
        let mut v: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.track.cmp(&b.track)));
        v
    }
}

/// Plain reference: every score, then a full sort. Ties by lower index.
pub fn top_k_reference(queries: &[SimVector], tracks: &[SimVector], k: usize) -> Vec<Vec<Hit>> {
    queries
        .iter()
        .map(|q| {
            let mut all: Vec<Hit> = tracks
                .iter()
                .enumerate()
                .map(|(i, t)| Hit { track: i as u32, score: q.iter().zip(t).map(|(a, b)| a * b).sum() })
                .collect();
            all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.track.cmp(&b.track)));
            all.truncate(k);
            all
        })
        .collect()
}

/// Exact top-`k` tracks per query, best first.
pub fn top_k(queries: &[SimVector], tracks: &TrackMatrix, k: usize) -> Vec<Vec<Hit>> {
    scan_chunks(queries, tracks, k, Isa::detect())
}

/// `top_k` with a chosen path (see `Isa`); `None` when this machine cannot run it.
pub fn top_k_with(queries: &[SimVector], tracks: &TrackMatrix, k: usize, kernel: Isa) -> Option<Vec<Vec<Hit>>> {
    kernel.supported().then(|| scan_chunks(queries, tracks, k, kernel))
}

/// Scans the chunks in parallel and merges their heaps; `kernel` must be
/// available.
fn scan_chunks(queries: &[SimVector], tracks: &TrackMatrix, k: usize, kernel: Isa) -> Vec<Vec<Hit>> {
    let n_panels = tracks.n.div_ceil(LANES);
    let chunks: Vec<(usize, usize)> =
        (0..n_panels).step_by(CHUNK_PANELS).map(|p0| (p0, (p0 + CHUNK_PANELS).min(n_panels))).collect();
    // Each worker carries its heaps from chunk to chunk (`fold`), so its
    // thresholds stay as high as all it has seen: a fresh heap per chunk
    // let the first k tracks of every chunk in, and at k = 200 over 10M
    // tracks heap work took as long as the scan. The top k of a union does
    // not depend on how it was split, ties included (`Worst` orders them).
    // One run of chunks per thread: more splits would restart more heaps.
    // (Rounded down: a minimum of half-plus-one would forbid the split.)
    let per_thread = (chunks.len() / rayon::current_num_threads().max(1)).max(1);
    let partial: Vec<Vec<TopK>> = chunks
        .par_iter()
        .with_min_len(per_thread)
        .fold(
            || queries.iter().map(|_| TopK::new(k)).collect::<Vec<TopK>>(),
            |mut heaps, &(p0, p1)| {
                scan(kernel, queries, tracks, p0, p1, &mut heaps);
                heaps
            },
        )
        .collect();
    let mut merged: Vec<TopK> = queries.iter().map(|_| TopK::new(k)).collect();
    for heaps in partial {
        for (m, h) in merged.iter_mut().zip(heaps) {
            h.heap.into_iter().for_each(|w| m.offer(w.0));
        }
    }
    merged.into_iter().map(TopK::into_sorted).collect()
}

fn scan(kernel: Isa, queries: &[SimVector], tracks: &TrackMatrix, p0: usize, p1: usize, heaps: &mut [TopK]) {
    match kernel {
        // SAFETY: `scan_chunks` runs `Avx2` only where it is available, so
        // AVX2 and FMA are present; `scan_avx2` stays inside panels
        // [p0, p1) and the query slice.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { scan_avx2(queries, tracks, p0, p1, heaps) },
        // SAFETY: as above, for AVX-512F.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { scan_avx512(queries, tracks, p0, p1, heaps) },
        _ => scan_scalar(queries, tracks, p0, p1, heaps),
    }
}

fn scan_scalar(queries: &[SimVector], tracks: &TrackMatrix, p0: usize, p1: usize, heaps: &mut [TopK]) {
    let mut scores = [0.0f32; LANES];
    for p in p0..p1 {
        let panel = &tracks.panels[p * PANEL..(p + 1) * PANEL];
        let lanes = LANES.min(tracks.n - p * LANES);
        for (q, heap) in queries.iter().zip(heaps.iter_mut()) {
            scores.fill(0.0);
            for (d, qd) in q.iter().enumerate() {
                for (s, t) in scores.iter_mut().zip(&panel[d * LANES..(d + 1) * LANES]) {
                    *s += qd * t;
                }
            }
            for (l, &s) in scores.iter().enumerate().take(lanes) {
                if s >= heap.threshold() {
                    heap.offer(Hit { track: (p * LANES + l) as u32, score: s });
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)] // rows/dims index several arrays in step
unsafe fn scan_avx2(queries: &[SimVector], tracks: &TrackMatrix, p0: usize, p1: usize, heaps: &mut [TopK]) {
    use std::arch::x86_64::*;
    let mut thresholds: Vec<f32> = heaps.iter().map(TopK::threshold).collect();
    let mut buf = [0.0f32; LANES];
    for p in p0..p1 {
        let lanes = LANES.min(tracks.n - p * LANES);
        // SAFETY: p < n_panels, so the panel lies inside `panels`.
        let panel = unsafe { tracks.panels.as_ptr().add(p * PANEL) };
        let mut q0 = 0;
        while q0 < queries.len() {
            let rows = QB.min(queries.len() - q0);
            let mut acc = [[_mm256_setzero_ps(); 2]; QB];
            for d in 0..SIM_DIMS {
                // SAFETY: d < SIM_DIMS within one panel.
                let (w0, w1) =
                    unsafe { (_mm256_loadu_ps(panel.add(d * LANES)), _mm256_loadu_ps(panel.add(d * LANES + 8))) };
                for r in 0..rows {
                    let x = _mm256_set1_ps(queries[q0 + r][d]);
                    acc[r][0] = _mm256_fmadd_ps(x, w0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(x, w1, acc[r][1]);
                }
            }
            for r in 0..rows {
                let q = q0 + r;
                let t = _mm256_set1_ps(thresholds[q]);
                let m0 = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(acc[r][0], t));
                let m1 = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(acc[r][1], t));
                let mask = (m0 as u32 | (m1 as u32) << 8) & ((1u32 << lanes) - 1);
                if mask == 0 {
                    continue;
                }
                // SAFETY: buf holds 16 floats.
                unsafe {
                    _mm256_storeu_ps(buf.as_mut_ptr(), acc[r][0]);
                    _mm256_storeu_ps(buf.as_mut_ptr().add(8), acc[r][1]);
                }
                thresholds[q] = offer_lanes(&mut heaps[q], mask as u32, &buf, p);
            }
            q0 += rows;
        }
    }
}

/// Images per AVX-512 register block: 12 accumulators, the panel row and
/// the broadcast query value fit the 32 registers with room to spare.
const QB512: usize = 12;

/// The AVX-512 scan: a whole 16-track panel row is one register, so a
/// block of `QB512` images takes one load and `QB512` FMAs per dimension
/// (the AVX2 kernel needs two loads and twice the FMAs for 6 images).
/// Blocks are full-size, with a remainder padded with zero queries whose
/// scores are never offered, so the accumulators stay in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)] // rows/dims index several arrays in step
unsafe fn scan_avx512(queries: &[SimVector], tracks: &TrackMatrix, p0: usize, p1: usize, heaps: &mut [TopK]) {
    use std::arch::x86_64::*;
    let mut thresholds: Vec<f32> = heaps.iter().map(TopK::threshold).collect();
    // Queries transposed per block, [block][dim][row], padded with zeros.
    let blocks = queries.len().div_ceil(QB512);
    let mut qt = vec![0.0f32; blocks * SIM_DIMS * QB512];
    for (q, v) in queries.iter().enumerate() {
        let (b, r) = (q / QB512, q % QB512);
        for d in 0..SIM_DIMS {
            qt[(b * SIM_DIMS + d) * QB512 + r] = v[d];
        }
    }
    let mut buf = [0.0f32; LANES];
    for p in p0..p1 {
        let lanes = LANES.min(tracks.n - p * LANES);
        let lane_mask: u16 = if lanes == LANES { u16::MAX } else { (1u16 << lanes) - 1 };
        // SAFETY: p < n_panels, so the panel lies inside `panels`.
        let panel = unsafe { tracks.panels.as_ptr().add(p * PANEL) };
        for b in 0..blocks {
            let mut acc = [_mm512_setzero_ps(); QB512];
            let block = &qt[b * SIM_DIMS * QB512..(b + 1) * SIM_DIMS * QB512];
            for d in 0..SIM_DIMS {
                // SAFETY: d < SIM_DIMS within one panel.
                let w = unsafe { _mm512_loadu_ps(panel.add(d * LANES)) };
                let x = &block[d * QB512..(d + 1) * QB512];
                for r in 0..QB512 {
                    acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r]), w, acc[r]);
                }
            }
            let rows = QB512.min(queries.len() - b * QB512);
            for r in 0..rows {
                let q = b * QB512 + r;
                let mask = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(acc[r], _mm512_set1_ps(thresholds[q])) & lane_mask;
                if mask == 0 {
                    continue;
                }
                // SAFETY: buf holds 16 floats.
                unsafe { _mm512_storeu_ps(buf.as_mut_ptr(), acc[r]) };
                thresholds[q] = offer_lanes(&mut heaps[q], mask as u32, &buf, p);
            }
        }
    }
}

/// Offers the lanes of panel `p` set in `mask` (whose scores are in
/// `scores`) to `heap`; returns its new threshold. Both SIMD kernels end a
/// block with this.
fn offer_lanes(heap: &mut TopK, mut mask: u32, scores: &[f32; LANES], p: usize) -> f32 {
    while mask != 0 {
        let l = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        heap.offer(Hit { track: (p * LANES + l) as u32, score: scores[l] });
    }
    heap.threshold()
}

/// Something that finds the top-k tracks for a batch of image vectors: the
/// CPU scan below, or the GPU kernel.
pub trait Matcher: Send + Sync {
    fn describe(&self) -> String;
    fn top_k(&self, queries: &[SimVector], k: usize) -> crate::Result<Vec<Vec<Hit>>>;
}

/// The CPU matcher over a catalog's track matrix.
pub struct CpuMatcher<'a> {
    pub tracks: &'a TrackMatrix,
}

impl Matcher for CpuMatcher<'_> {
    fn describe(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }
    fn top_k(&self, queries: &[SimVector], k: usize) -> crate::Result<Vec<Vec<Hit>>> {
        Ok(top_k(queries, self.tracks, k))
    }
}
