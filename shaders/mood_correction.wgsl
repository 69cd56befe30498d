// Mood correction: the learned mood head's term from the pooled features,
// `((features − mean) / scale) · weight`, one row of 24 outputs per image
// (valence, arousal, twelve moods, ten themes). The rest of the head (its
// bias, and its colour and prior terms, 29 inputs that the CPU computes
// anyway) is added on the CPU; `MoodHead::feature_term` is the reference.
//
// One workgroup per image. The standardised features go to workgroup memory
// once; then 96 invocations each sum a quarter of the inputs for one output
// (neighbouring invocations read neighbouring weights of a row), and 24 add
// the four partial sums in a fixed order, so the result does not depend on
// scheduling.

struct Params {
    images: u32,
    inputs: u32,
    outputs: u32,
    _pad: u32,
}

const WG: u32 = 128u;
const MAX_INPUTS: u32 = 1280u;
const OUTPUTS: u32 = 24u;
const SPLIT: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
// [image][input]
@group(0) @binding(1) var<storage, read> features: array<f32>;
// [mean: inputs | scale: inputs | weight: inputs x outputs, row-major]
@group(0) @binding(2) var<storage, read> head: array<f32>;
// [image][output]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> z: array<f32, MAX_INPUTS>;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(128)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let inputs = min(p.inputs, MAX_INPUTS);
    let outputs = min(p.outputs, OUTPUTS);
    let weights = 2u * p.inputs;
    let chunk = (inputs + SPLIT - 1u) / SPLIT;
    for (var img = wg.x; img < p.images; img += groups.x) {
        for (var i = lid; i < inputs; i += WG) {
            z[i] = (features[img * p.inputs + i] - head[i]) / head[p.inputs + i];
        }
        workgroupBarrier();
        if lid < outputs * SPLIT {
            let o = lid % outputs;
            let part = lid / outputs;
            let end = min(inputs, (part + 1u) * chunk);
            var acc = 0.0;
            for (var i = part * chunk; i < end; i++) {
                acc += z[i] * head[weights + i * p.outputs + o];
            }
            partial[lid] = acc;
        }
        workgroupBarrier();
        if lid < outputs {
            var sum = 0.0;
            for (var part = 0u; part < SPLIT; part++) {
                sum += partial[part * outputs + lid];
            }
            out[img * p.outputs + lid] = sum;
        }
        // `z` and `partial` are reused by the next image.
        workgroupBarrier();
    }
}
