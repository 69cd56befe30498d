// Mood head: the softmax of each image's logits, then the semantic part of
// its mood vector, the probability-weighted sum of the per-class mood
// vectors. Classes below `min_prob` are skipped, exactly as
// `mood::semantic` does on the CPU, so both paths agree.
//
// One workgroup per image: reductions for the maximum and the sum in
// workgroup memory, then one invocation per mood dimension walks the
// classes, reading the table row-wise so that neighbours read neighbours.

struct Params {
    images: u32,
    classes: u32,
    dims: u32,
    min_prob: f32,
}

const WG: u32 = 128u;
const MAX_CLASSES: u32 = 1024u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
// [class][dim]
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> probs: array<f32, MAX_CLASSES>;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(128)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let classes = min(p.classes, MAX_CLASSES);
    for (var img = wg.x; img < p.images; img += groups.x) {
        let base = img * p.classes;
        var m = -3.0e38;
        for (var c = lid; c < classes; c += WG) {
            m = max(m, logits[base + c]);
        }
        partial[lid] = m;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if lid < s {
                partial[lid] = max(partial[lid], partial[lid + s]);
            }
            workgroupBarrier();
        }
        let top = partial[0];
        workgroupBarrier();
        var sum = 0.0;
        for (var c = lid; c < classes; c += WG) {
            let e = exp(logits[base + c] - top);
            probs[c] = e;
            sum += e;
        }
        partial[lid] = sum;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s >>= 1u) {
            if lid < s {
                partial[lid] += partial[lid + s];
            }
            workgroupBarrier();
        }
        let total = partial[0];
        for (var d = lid; d < p.dims; d += WG) {
            var acc = 0.0;
            for (var c = 0u; c < classes; c++) {
                let pr = probs[c] / total;
                if pr >= p.min_prob {
                    acc += pr * table[c * p.dims + d];
                }
            }
            out[img * p.dims + d] = acc;
        }
        // `probs` and `partial` are reused by the next image.
        workgroupBarrier();
    }
}
