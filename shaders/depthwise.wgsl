// Depthwise 3x3 convolution (stride 1 or 2, zero padding 1) with its folded
// bias and ReLU6, NHWC.
//
// One invocation per output pixel and group of four channels, channels
// fastest, so neighbouring invocations read neighbouring memory and every
// load is a full vec4. All MobileNetV2 channel counts are multiples of 8.
// `Act`, the activations' storage type, is f32 or f16 (as in pointwise.wgsl);
// the nine taps, the bias and the sum are f32.

alias Act = f32;

struct Params {
    images: u32,
    in_side: u32,
    out_side: u32,
    channels4: u32,
    stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<Act>>;
// Weights [ky * 3 + kx][channel / 4].
@group(0) @binding(2) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<Act>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c4 = p.channels4;
    let plane = p.out_side * p.out_side;
    let total = p.images * plane * c4;
    for (var i = gid.x; i < total; i += groups.x * 64u) {
        let c = i % c4;
        let px = i / c4;
        let img = px / plane;
        let oy = (px % plane) / p.out_side;
        let ox = px % p.out_side;
        var acc = bias[c];
        for (var ky = 0u; ky < 3u; ky++) {
            let iy = i32(oy * p.stride + ky) - 1;
            if iy < 0 || iy >= i32(p.in_side) {
                continue;
            }
            let row = (img * p.in_side + u32(iy)) * p.in_side;
            for (var kx = 0u; kx < 3u; kx++) {
                let ix = i32(ox * p.stride + kx) - 1;
                if ix < 0 || ix >= i32(p.in_side) {
                    continue;
                }
                acc += vec4<f32>(x[(row + u32(ix)) * c4 + c]) * weight[(ky * 3u + kx) * c4 + c];
            }
        }
        out[i] = vec4<Act>(clamp(acc, vec4(0.0), vec4(6.0)));
    }
}
