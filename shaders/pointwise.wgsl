// 1x1 convolution as a matrix product, NHWC:
//     out[M x N] = x[M x K] * weight[K x N] + bias
// then ReLU6 (expansions and the head) or plus the block's input (the
// projections of residual blocks). M is images x pixels, K the input and N
// the output channels; the classifier is the same product with M = images.
//
// Each workgroup of 16x16 invocations makes a 64x64 tile of `out`, each
// invocation a 4x4 block of it in registers. K advances 16 at a time through
// workgroup memory: the x tile is stored transposed so that one vec4 read
// gives an invocation its four rows, and one vec4 of the weight tile its four
// columns, 16 multiply-adds per pair of reads. K and N are multiples of 4 in
// MobileNetV2, so a vec4 is always wholly inside or outside the matrix.
//
// `Act` is the storage type of activations and weights: f32, or f16 for the
// engine's f16 path (the same source with `enable f16;`, see
// `engine::gpu::shaders`). Tiles, sums and the bias stay f32 either way, so
// f16 only rounds what is stored, not how it is added up.

alias Act = f32;

struct Params {
    m: u32,
    k: u32,
    n: u32,
    _pad: u32,
}

override RELU6: bool = false;
override RESIDUAL: bool = false;

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<Act>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<Act>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
// The block input for RESIDUAL, else any small buffer (never read).
@group(0) @binding(4) var<storage, read> residual: array<vec4<Act>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<Act>>;

// [k][row / 4] and [k][column / 4] of the current K step.
var<workgroup> xs: array<vec4<f32>, 256>;
var<workgroup> ws: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let tid = lid.y * 16u + lid.x;
    let k4 = p.k / 4u;
    let n4 = p.n / 4u;
    let n0 = wg.x * TILE_N;
    let col = n0 / 4u + lid.x;
    // Loaders: x row `lr`, its K quad `lq`; weight row `wk`, column quad `wc`.
    let lr = tid / 4u;
    let lq = tid % 4u;
    let wk = tid / 16u;
    let wc = tid % 16u;
    let tiles_m = (p.m + TILE_M - 1u) / TILE_M;
    // Grid-stride over row tiles, so any M fits the dispatch limit.
    for (var tm = wg.y; tm < tiles_m; tm += groups.y) {
        let m0 = tm * TILE_M;
        var acc: array<vec4<f32>, 4>;
        for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
            let row = m0 + lr;
            let kq = k0 / 4u + lq;
            var xv = vec4(0.0);
            if row < p.m && kq < k4 {
                xv = vec4<f32>(x[row * k4 + kq]);
            }
            for (var j = 0u; j < 4u; j++) {
                xs[(lq * 4u + j) * 16u + lr / 4u][lr % 4u] = xv[j];
            }
            let kr = k0 + wk;
            let wcol = n0 / 4u + wc;
            var wv = vec4(0.0);
            if kr < p.k && wcol < n4 {
                wv = vec4<f32>(weight[kr * n4 + wcol]);
            }
            ws[wk * 16u + wc] = wv;
            workgroupBarrier();
            for (var kk = 0u; kk < TILE_K; kk++) {
                let a = xs[kk * 16u + lid.y];
                let b = ws[kk * 16u + lid.x];
                acc[0] += a.x * b;
                acc[1] += a.y * b;
                acc[2] += a.z * b;
                acc[3] += a.w * b;
            }
            workgroupBarrier();
        }
        if col < n4 {
            let b = bias[col];
            for (var i = 0u; i < 4u; i++) {
                let row = m0 + lid.y * 4u + i;
                if row < p.m {
                    var v = acc[i] + b;
                    if RELU6 {
                        v = clamp(v, vec4(0.0), vec4(6.0));
                    }
                    if RESIDUAL {
                        v += vec4<f32>(residual[row * n4 + col]);
                    }
                    out[row * n4 + col] = vec4<Act>(v);
                }
            }
        }
    }
}
