// Peak measurements for `pixtape bench`: the FMA throughput and the read
// bandwidth this adapter sustains, so that the engine's kernels can be
// given as a fraction of what the device can do (wgpu reports no peak).
// CPU references: `gpu::peak::fma_reference` and `stream_reference`.

struct Params {
    // FMA rounds per invocation (fma_peak).
    iterations: u32,
    // vec4 words in `data` (stream_peak).
    words: u32,
    // Invocations that do work; the grid may hold a few more.
    threads: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> data: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Eight independent chains of vec4 FMAs per invocation, so the ALUs never
// wait on one result. a <- a * m + c converges to c / (1 - m) = 1, so the
// values stay finite whatever the iteration count, and the final sum
// depends on every round, so no round can be optimised away.
@compute @workgroup_size(256)
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= params.threads) {
        return;
    }
    let seed = f32(i % 1024u) * 0.0001;
    var a0 = vec4<f32>(seed, seed + 0.01, seed + 0.02, seed + 0.03);
    var a1 = a0 + vec4<f32>(0.1);
    var a2 = a0 + vec4<f32>(0.2);
    var a3 = a0 + vec4<f32>(0.3);
    var a4 = a0 + vec4<f32>(0.4);
    var a5 = a0 + vec4<f32>(0.5);
    var a6 = a0 + vec4<f32>(0.6);
    var a7 = a0 + vec4<f32>(0.7);
    let m = vec4<f32>(0.999);
    let c = vec4<f32>(0.001);
    for (var k = 0u; k < params.iterations; k++) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a4 = fma(a4, m, c);
        a5 = fma(a5, m, c);
        a6 = fma(a6, m, c);
        a7 = fma(a7, m, c);
    }
    let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    out[i] = (s.x + s.y) + (s.z + s.w);
}

// Each invocation sums a grid-strided share of `data`: neighbouring
// invocations read neighbouring vec4s, so every load is coalesced and the
// whole buffer is read exactly once.
@compute @workgroup_size(256)
fn stream_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if (i >= params.threads) {
        return;
    }
    var s = vec4<f32>(0.0);
    for (var j = i; j < params.words; j += params.threads) {
        s += data[j];
    }
    out[i] = (s.x + s.y) + (s.z + s.w);
}
