// The face networks' layers (launched by src/engine/faces/gpu.rs), f32,
// NHWC, every image of a batch in one dispatch:
//
//   conv_rgb   dense 3x3 convolution of u8 RGB, normalised as it is read
//   depthwise  3x3 depthwise convolution (no bias)
//   pointwise  1x1 convolution as a tiled matrix product, plus the bias, an
//              optional residual and an activation
//   max_pool   2x2 max pool, stride 1 or 2, TensorFlow 'same'
//   mean_fc    mean over the plane, then a linear layer (the expression head)
//
// Every entry point reads the same uniform block and each resource has a
// binding number of its own, so the layout wgpu derives for an entry point
// holds exactly the bindings it uses. Channel counts are multiples of four
// (the launcher pads the detector head's 25 outputs to 28 and the 7 logits
// to 8), so every load and store is a whole vec4. Zero padding is zero in
// normalised space, as TensorFlow pads the normalised tensor: padded taps
// are skipped.

struct Params {
    images: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    cin4: u32,
    cout4: u32,
    // 0: none, 1: ReLU, 2: leaky ReLU (0.1).
    act: u32,
    // FLAG_RESIDUAL | FLAG_RELU_IN.
    flags: u32,
    // conv_rgb: the mean RGB subtracted before dividing by 255.
    mean: vec4<f32>,
}

const ACT_RELU: u32 = 1u;
const ACT_LEAKY: u32 = 2u;
const FLAG_RESIDUAL: u32 = 1u;
// The expression net's dense blocks keep a running sum and its readers take
// its ReLU: applying it on load saves a pass and a buffer.
const FLAG_RELU_IN: u32 = 2u;

// Output channels / 4 of conv_rgb: a constant, so that the accumulators
// live in registers rather than in an indexed array in memory.
override RGB_OUT4: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
// Read only with FLAG_RESIDUAL; otherwise any small buffer.
@group(0) @binding(4) var<storage, read> residual: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;
// Images as packed bytes: image, row, column, channel; four per word.
@group(0) @binding(6) var<storage, read> pixels: array<u32>;

fn activate(v: vec4<f32>) -> vec4<f32> {
    if p.act == ACT_RELU {
        return max(v, vec4(0.0));
    }
    if p.act == ACT_LEAKY {
        // Equal to `v > 0 ? v : 0.1 v` everywhere.
        return max(v, 0.1 * v);
    }
    return v;
}

fn load(i: u32) -> vec4<f32> {
    let v = x[i];
    if (p.flags & FLAG_RELU_IN) != 0u {
        return max(v, vec4(0.0));
    }
    return v;
}

fn byte_at(i: u32) -> f32 {
    return f32((pixels[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

// One invocation makes every output channel of one pixel, so each input
// byte is unpacked and normalised once per tap, not once per channel.
// Weights [ky][kx][c][out / 4].
@compute @workgroup_size(64)
fn conv_rgb(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let plane = p.out_h * p.out_w;
    let total = p.images * plane;
    for (var px = gid.x; px < total; px += groups.x * 64u) {
        let img = px / plane;
        let oy = (px % plane) / p.out_w;
        let ox = px % p.out_w;
        var acc: array<vec4<f32>, 8>;
        for (var o = 0u; o < RGB_OUT4; o++) {
            acc[o] = vec4(0.0);
        }
        for (var ky = 0u; ky < 3u; ky++) {
            let iy = i32(oy * p.stride + ky) - i32(p.pad_top);
            if iy < 0 || iy >= i32(p.in_h) {
                continue;
            }
            for (var kx = 0u; kx < 3u; kx++) {
                let ix = i32(ox * p.stride + kx) - i32(p.pad_left);
                if ix < 0 || ix >= i32(p.in_w) {
                    continue;
                }
                let base = ((img * p.in_h + u32(iy)) * p.in_w + u32(ix)) * 3u;
                for (var c = 0u; c < 3u; c++) {
                    let v = (byte_at(base + c) - p.mean[c]) / 255.0;
                    let w = ((ky * 3u + kx) * 3u + c) * RGB_OUT4;
                    for (var o = 0u; o < RGB_OUT4; o++) {
                        acc[o] += v * weight[w + o];
                    }
                }
            }
        }
        for (var o = 0u; o < RGB_OUT4; o++) {
            out[px * RGB_OUT4 + o] = activate(acc[o] + bias[o]);
        }
    }
}

// One invocation per output pixel and group of four channels, channels
// fastest, so neighbouring invocations read neighbouring memory.
// Weights [ky * 3 + kx][channel / 4].
@compute @workgroup_size(64)
fn depthwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c4 = p.cin4;
    let plane = p.out_h * p.out_w;
    let total = p.images * plane * c4;
    for (var i = gid.x; i < total; i += groups.x * 64u) {
        let c = i % c4;
        let px = i / c4;
        let img = px / plane;
        let oy = (px % plane) / p.out_w;
        let ox = px % p.out_w;
        var acc = vec4(0.0);
        for (var ky = 0u; ky < 3u; ky++) {
            let iy = i32(oy * p.stride + ky) - i32(p.pad_top);
            if iy < 0 || iy >= i32(p.in_h) {
                continue;
            }
            let row = (img * p.in_h + u32(iy)) * p.in_w;
            for (var kx = 0u; kx < 3u; kx++) {
                let ix = i32(ox * p.stride + kx) - i32(p.pad_left);
                if ix < 0 || ix >= i32(p.in_w) {
                    continue;
                }
                acc += load((row + u32(ix)) * c4 + c) * weight[(ky * 3u + kx) * c4 + c];
            }
        }
        out[i] = acc;
    }
}

// out[M x N] = x[M x K] * weight[K x N] + bias (+ residual), then the
// activation; M is images x pixels, K and N the channels.
//
// As shaders/pointwise.wgsl: each workgroup of 16x16 invocations makes a
// 64x64 tile of `out`, each invocation a 4x4 block of it in registers. K
// advances 16 at a time through workgroup memory, the x tile stored
// transposed so that one vec4 read gives an invocation its four rows and one
// vec4 of the weight tile its four columns: 16 multiply-adds per two reads.
const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;

// [k][row / 4] and [k][column / 4] of the current K step.
var<workgroup> xs: array<vec4<f32>, 256>;
var<workgroup> ws: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn pointwise(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let m = p.images * p.in_h * p.in_w;
    let k4 = p.cin4;
    let n4 = p.cout4;
    let tid = lid.y * 16u + lid.x;
    let n0 = wg.x * TILE_N;
    let col = n0 / 4u + lid.x;
    // Loaders: x row `lr`, its K quad `lq`; weight row `wk`, column quad `wc`.
    let lr = tid / 4u;
    let lq = tid % 4u;
    let wk = tid / 16u;
    let wc = tid % 16u;
    let tiles_m = (m + TILE_M - 1u) / TILE_M;
    // Grid-stride over row tiles, so any M fits the dispatch limit.
    for (var tm = wg.y; tm < tiles_m; tm += groups.y) {
        let m0 = tm * TILE_M;
        var acc: array<vec4<f32>, 4>;
        for (var k0 = 0u; k0 < k4 * 4u; k0 += TILE_K) {
            let row = m0 + lr;
            let kq = k0 / 4u + lq;
            var xv = vec4(0.0);
            if row < m && kq < k4 {
                xv = load(row * k4 + kq);
            }
            for (var j = 0u; j < 4u; j++) {
                xs[(lq * 4u + j) * 16u + lr / 4u][lr % 4u] = xv[j];
            }
            let kr = k0 + wk;
            let wcol = n0 / 4u + wc;
            var wv = vec4(0.0);
            if kr < k4 * 4u && wcol < n4 {
                wv = weight[kr * n4 + wcol];
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
                if row < m {
                    var v = acc[i] + b;
                    if (p.flags & FLAG_RESIDUAL) != 0u {
                        v += residual[row * n4 + col];
                    }
                    out[row * n4 + col] = activate(v);
                }
            }
        }
    }
}

// 'Same' padding with a 2x2 window only ever pads after the plane, and a
// padded cell never wins, so the window is just clipped to the plane.
@compute @workgroup_size(64)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c4 = p.cin4;
    let plane = p.out_h * p.out_w;
    let total = p.images * plane * c4;
    for (var i = gid.x; i < total; i += groups.x * 64u) {
        let c = i % c4;
        let px = i / c4;
        let img = px / plane;
        let y = ((px % plane) / p.out_w) * p.stride;
        let x0 = (px % p.out_w) * p.stride;
        let at = ((img * p.in_h + y) * p.in_w + x0) * c4 + c;
        let right = x0 + 1u < p.in_w;
        var m = x[at];
        if right {
            m = max(m, x[at + c4]);
        }
        if y + 1u < p.in_h {
            m = max(m, x[at + p.in_w * c4]);
            if right {
                m = max(m, x[at + (p.in_w + 1u) * c4]);
            }
        }
        out[i] = m;
    }
}

// Up to 512 input channels.
var<workgroup> pooled: array<vec4<f32>, 128>;

// One workgroup per image: the mean of each channel over the plane, then
// `cout4` invocations each make four outputs. Weights [channel][out / 4].
@compute @workgroup_size(64)
fn mean_fc(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let pixels = p.in_h * p.in_w;
    for (var img = wg.x; img < p.images; img += groups.x) {
        for (var c = lid.x; c < p.cin4; c += 64u) {
            var sum = vec4(0.0);
            for (var px = 0u; px < pixels; px++) {
                sum += load((img * pixels + px) * p.cin4 + c);
            }
            pooled[c] = sum / f32(pixels);
        }
        workgroupBarrier();
        if lid.x < p.cout4 {
            var acc = vec4(0.0);
            for (var c = 0u; c < p.cin4 * 4u; c++) {
                acc += pooled[c / 4u][c % 4u] * weight[c * p.cout4 + lid.x];
            }
            out[img * p.cout4 + lid.x] = acc + bias[lid.x];
        }
        workgroupBarrier();
    }
}
