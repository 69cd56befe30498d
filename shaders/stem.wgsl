// MobileNetV2 stem: normalise u8 RGB crops with the ImageNet statistics and
// run the 3x3 stride-2 convolution (3 -> 32 channels, zero padding 1) with
// its folded bias and ReLU6, writing NHWC.
//
// Uploading the crops as bytes moves a quarter of what f32 would, and the
// normalisation costs nothing next to the convolution. One invocation makes
// all 32 channels of one output pixel, so each input byte is unpacked once
// per tap instead of once per channel. Zero padding is zero in normalised
// space, as PyTorch pads the normalised tensor. Its output is stored as
// `Act`, f32 or f16 (as in pointwise.wgsl); everything before the store is f32.

alias Act = f32;

struct Params {
    images: u32,
    in_side: u32,
    out_side: u32,
    _pad: u32,
    mean: vec4<f32>,
    deviation: vec4<f32>,
}

const OUT4: u32 = 8u; // 32 output channels as vec4

@group(0) @binding(0) var<uniform> p: Params;
// Crops as packed bytes: image, row, column, channel; four per word.
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
// Weights [ky][kx][c][out/4].
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<Act>>;

fn byte_at(i: u32) -> f32 {
    return f32((pixels[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let plane = p.out_side * p.out_side;
    let total = p.images * plane;
    for (var px = gid.x; px < total; px += groups.x * 64u) {
        let img = px / plane;
        let oy = (px % plane) / p.out_side;
        let ox = px % p.out_side;
        var acc: array<vec4<f32>, OUT4>;
        for (var o = 0u; o < OUT4; o++) {
            acc[o] = bias[o];
        }
        for (var ky = 0u; ky < 3u; ky++) {
            let iy = i32(oy * 2u + ky) - 1;
            if iy < 0 || iy >= i32(p.in_side) {
                continue;
            }
            for (var kx = 0u; kx < 3u; kx++) {
                let ix = i32(ox * 2u + kx) - 1;
                if ix < 0 || ix >= i32(p.in_side) {
                    continue;
                }
                let base = ((img * p.in_side + u32(iy)) * p.in_side + u32(ix)) * 3u;
                for (var c = 0u; c < 3u; c++) {
                    let v = (byte_at(base + c) / 255.0 - p.mean[c]) / p.deviation[c];
                    let w = ((ky * 3u + kx) * 3u + c) * OUT4;
                    for (var o = 0u; o < OUT4; o++) {
                        acc[o] += v * weight[w + o];
                    }
                }
            }
        }
        for (var o = 0u; o < OUT4; o++) {
            out[px * OUT4 + o] = vec4<Act>(clamp(acc[o], vec4(0.0), vec4(6.0)));
        }
    }
}
