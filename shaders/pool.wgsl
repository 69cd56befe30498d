// Global average pooling of an NHWC tensor: the mean of every channel over
// all pixels of each image. One invocation per image and group of four
// channels; the 7x7 plane MobileNetV2 pools is too small to split further.
// It reads activations of type `Act` (f32 or f16, as in pointwise.wgsl) and
// writes f32 features.

alias Act = f32;

struct Params {
    images: u32,
    pixels: u32,
    channels4: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<Act>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let total = p.images * p.channels4;
    for (var i = gid.x; i < total; i += groups.x * 64u) {
        let img = i / p.channels4;
        let c = i % p.channels4;
        var sum = vec4(0.0);
        for (var px = 0u; px < p.pixels; px++) {
            sum += vec4<f32>(x[(img * p.pixels + px) * p.channels4 + c]);
        }
        out[i] = sum / f32(p.pixels);
    }
}
