// Fused similarity and top-k. `scan`: each workgroup scores one slice of a
// tile of the track matrix against a group of images and keeps every
// image's best k in workgroup memory; only those k per slice leave it.
// `merge`: one workgroup per image reduces the slices' lists to its final k.
// The image x track score matrix never exists, in memory or anywhere else.
//
// Order: higher score first, equal scores by lower track index, as the CPU
// reference. An entry is (key, track) where the key is the score's bits
// mapped so that unsigned order is float order (f32::total_cmp's), which
// keeps infinities and NaN out of the comparisons. Key 0 with track
// 0xffffffff is the empty entry, worse than any score.
//
// Each image owns LIST slots (a power of two, at least k + PASS): its best k
// so far in [0, k), and after them the candidates of the current passes. A
// track becomes a candidate only if it scores at least the k-th best so far,
// so once a list is warm almost nothing does. Before a pass could overflow
// some image's slots, the workgroup bitonic-sorts every list and the first k
// are the new best.

struct Params {
    // scan: tracks in this tile; merge: unused
    tracks: u32,
    queries: u32,
    k: u32,
    // scan: tracks per workgroup, a multiple of 16
    slice: u32,
    // scan: global index of the tile's first track
    first_track: u32,
    // scan: index of the tile's first slice among all tiles' slices
    first_slice: u32,
    // merge: lists per image to reduce (all slices of all tiles)
    lists: u32,
    _pad: u32,
}

// Images per workgroup, at most MAX_QG; slots per image; their product and
// QG * QDIM4 (a workgroup array's length must be a single override).
override QG: u32 = 4u;
override LIST: u32 = 512u;
override SLOTS: u32 = 2048u;
override QVECS: u32 = 40u;

const MAX_QG: u32 = 8u;
const WG: u32 = 64u;
// Tracks per pass: four neighbouring tracks per invocation.
const PASS: u32 = 256u;
// The track matrix is stored in panels of 16 tracks, [panel][dim][lane]:
// 38 dims x 16 lanes = 152 vec4 per panel.
const LANES4: u32 = 4u;
const PANEL4: u32 = 152u;
// Query vectors are padded from 38 to 40 values.
const QDIM4: u32 = 10u;
const EMPTY: vec2<u32> = vec2<u32>(0u, 0xffffffffu);

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tracks: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> queries: array<vec4<f32>>;
// [slice][query][k]: written by scan, read by merge.
@group(0) @binding(3) var<storage, read_write> lists: array<vec2<u32>>;
// [query][k]: merge's output.
@group(0) @binding(4) var<storage, read_write> best: array<vec2<u32>>;

var<workgroup> list: array<vec2<u32>, SLOTS>;
var<workgroup> count: array<atomic<u32>, QG>;
var<workgroup> threshold: array<u32, QG>;
var<workgroup> qv: array<vec4<f32>, QVECS>;
var<workgroup> flag: u32;

fn key_of(s: f32) -> u32 {
    let b = bitcast<u32>(s);
    return select(b ^ 0x80000000u, ~b, (b >> 31u) == 1u);
}

fn better(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.x > b.x || (a.x == b.x && a.y < b.y);
}

fn offer(q: u32, key: u32, track: u32) {
    if key >= threshold[q] {
        let slot = atomicAdd(&count[q], 1u);
        list[q * LIST + p.k + slot] = vec2(key, track);
    }
}

fn reset(lid: u32, groups: u32) {
    for (var i = lid; i < groups * LIST; i += WG) {
        list[i] = EMPTY;
    }
    if lid < groups {
        atomicStore(&count[lid], 0u);
        threshold[lid] = 0u;
    }
}

// Sorts the lists of the first `groups` images if any holds more than
// `room` candidates (0 at the end: any), then updates the thresholds. Only
// the first `span` slots are sorted, the smallest power of two that holds
// the best k and every candidate: slots beyond hold entries that already
// lost to the k-th best, and may stay where they are.
fn settle(lid: u32, groups: u32, room: u32) {
    if lid == 0u {
        var most = 0u;
        for (var q = 0u; q < groups; q++) {
            most = max(most, atomicLoad(&count[q]));
        }
        flag = select(0u, most, most > room);
    }
    let most = workgroupUniformLoad(&flag);
    if most == 0u {
        return;
    }
    var span = 2u;
    while span < p.k + most {
        span <<= 1u;
    }
    let half = span / 2u;
    for (var size = 2u; size <= span; size <<= 1u) {
        for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
            for (var i = lid; i < groups * half; i += WG) {
                let q = i / half;
                let j = i % half;
                let lo = 2u * stride * (j / stride) + j % stride;
                let a = list[q * LIST + lo];
                let b = list[q * LIST + lo + stride];
                // Blocks alternate direction; the last pass sorts descending.
                if better(b, a) == ((lo & size) == 0u) {
                    list[q * LIST + lo] = b;
                    list[q * LIST + lo + stride] = a;
                }
            }
            workgroupBarrier();
        }
    }
    if lid < groups {
        threshold[lid] = list[lid * LIST + p.k - 1u].x;
        atomicStore(&count[lid], 0u);
    }
    workgroupBarrier();
}

@compute @workgroup_size(64)
fn scan(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let q0 = wg.x * QG;
    let groups = min(QG, p.queries - q0);
    let begin = wg.y * p.slice;
    let end = min(begin + p.slice, p.tracks);
    reset(lid, QG);
    for (var i = lid; i < QG * QDIM4; i += WG) {
        let q = q0 + i / QDIM4;
        var v = vec4(0.0);
        if q < p.queries {
            v = queries[q * QDIM4 + i % QDIM4];
        }
        qv[i] = v;
    }
    workgroupBarrier();
    // Candidates may arrive only while k + count + PASS fits the list.
    let room = LIST - p.k - PASS;
    for (var base = begin; base < end; base += PASS) {
        let t = base + lid * 4u;
        if t < end {
            // Four neighbouring tracks share a panel: one vec4 per dimension.
            let src = (t / 16u) * PANEL4 + (t % 16u) / 4u;
            var acc: array<vec4<f32>, MAX_QG>;
            for (var d4 = 0u; d4 < 9u; d4++) {
                let t0 = tracks[src + (d4 * 4u) * LANES4];
                let t1 = tracks[src + (d4 * 4u + 1u) * LANES4];
                let t2 = tracks[src + (d4 * 4u + 2u) * LANES4];
                let t3 = tracks[src + (d4 * 4u + 3u) * LANES4];
                for (var q = 0u; q < QG; q++) {
                    let v = qv[q * QDIM4 + d4];
                    acc[q] += v.x * t0 + v.y * t1 + v.z * t2 + v.w * t3;
                }
            }
            let t36 = tracks[src + 36u * LANES4];
            let t37 = tracks[src + 37u * LANES4];
            for (var q = 0u; q < groups; q++) {
                let v = qv[q * QDIM4 + 9u];
                let s = acc[q] + v.x * t36 + v.y * t37;
                for (var j = 0u; j < 4u; j++) {
                    if t + j < end {
                        offer(q, key_of(s[j]), p.first_track + t + j);
                    }
                }
            }
        }
        workgroupBarrier();
        settle(lid, groups, room);
    }
    settle(lid, groups, 0u);
    let slice = p.first_slice + wg.y;
    for (var i = lid; i < groups * p.k; i += WG) {
        let q = i / p.k;
        lists[(slice * p.queries + q0 + q) * p.k + i % p.k] = list[q * LIST + i % p.k];
    }
}

@compute @workgroup_size(64)
fn merge(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let q = wg.x;
    reset(lid, 1u);
    workgroupBarrier();
    let room = LIST - p.k - PASS;
    let total = p.lists * p.k;
    for (var base = 0u; base < total; base += PASS) {
        for (var j = 0u; j < 4u; j++) {
            let c = base + j * WG + lid;
            if c < total {
                let e = lists[((c / p.k) * p.queries + q) * p.k + c % p.k];
                if e.y != EMPTY.y {
                    offer(0u, e.x, e.y);
                }
            }
        }
        workgroupBarrier();
        settle(lid, 1u, room);
    }
    settle(lid, 1u, 0u);
    for (var i = lid; i < p.k; i += WG) {
        best[q * p.k + i] = list[i];
    }
}
