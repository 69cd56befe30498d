// Intensity cues, per-pixel part: one workgroup per 16 x 16 block of a
// frame writes the block's sums (src/engine/cues/blocks.rs is the CPU
// reference and says what each term is). Luma is loaded once into a tile
// with a 4-pixel halo, since the Sobel, Laplacian and light-ring tests read
// up to 4 pixels away; terms are summed by a halving tree in the order the
// reference uses.

struct Params {
    width: u32,
    height: u32,
    blocks_x: u32,
    // Index of this frame's first block in `out`, and of its first pixel in `rgb`.
    first_block: u32,
    first_pixel: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const BLOCK: u32 = 16u;
const HALO: u32 = 4u;
const TILE: u32 = 24u; // BLOCK + 2 * HALO
const VALUES: u32 = 13u;
const EDGE: f32 = 0.1;
const LIGHT_MIN: f32 = 0.7;
const LIGHT_DROP: f32 = 0.35;

@group(0) @binding(0) var<uniform> p: Params;
// One pixel a word: R | G << 8 | B << 16.
@group(0) @binding(1) var<storage, read> rgb: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> tile: array<f32, 576>;
var<workgroup> red: array<f32, 256>;

fn channels(x: u32, y: u32) -> vec3<f32> {
    let w = rgb[p.first_pixel + y * p.width + x];
    return vec3(f32(w & 255u), f32((w >> 8u) & 255u), f32((w >> 16u) & 255u));
}

fn luma(c: vec3<f32>) -> f32 {
    return (0.299 * c.x + 0.587 * c.y + 0.114 * c.z) * (1.0 / 255.0);
}

// Luma at offset (dx, dy) from local pixel (lx, ly), from the tile.
fn at(lx: u32, ly: u32, dx: i32, dy: i32) -> f32 {
    return tile[u32(i32(ly + HALO) + dy) * TILE + u32(i32(lx + HALO) + dx)];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bx = wg.x % p.blocks_x;
    let by = wg.x / p.blocks_x;
    let i = lid.y * BLOCK + lid.x;
    // Fill the tile, clamping coordinates to the frame as the reference does.
    for (var t = i; t < TILE * TILE; t += 256u) {
        let gx = clamp(i32(bx * BLOCK + t % TILE) - i32(HALO), 0, i32(p.width) - 1);
        let gy = clamp(i32(by * BLOCK + t / TILE) - i32(HALO), 0, i32(p.height) - 1);
        tile[t] = luma(channels(u32(gx), u32(gy)));
    }
    workgroupBarrier();

    let x = bx * BLOCK + lid.x;
    let y = by * BLOCK + lid.y;
    var terms: array<f32, 13>;
    if (x < p.width && y < p.height) {
        let lx = lid.x;
        let ly = lid.y;
        let c = at(lx, ly, 0, 0);
        let gx = ((at(lx, ly, 1, -1) + 2.0 * at(lx, ly, 1, 0) + at(lx, ly, 1, 1))
            - (at(lx, ly, -1, -1) + 2.0 * at(lx, ly, -1, 0) + at(lx, ly, -1, 1))) * 0.25;
        let gy = ((at(lx, ly, -1, 1) + 2.0 * at(lx, ly, 0, 1) + at(lx, ly, 1, 1))
            - (at(lx, ly, -1, -1) + 2.0 * at(lx, ly, 0, -1) + at(lx, ly, 1, -1))) * 0.25;
        let m2 = gx * gx + gy * gy;
        let lap = abs(4.0 * c - at(lx, ly, -1, 0) - at(lx, ly, 1, 0) - at(lx, ly, 0, -1) - at(lx, ly, 0, 1));
        var light = 0.0;
        var trail = 0.0;
        if (c >= LIGHT_MIN) {
            let ring = array<vec2<i32>, 8>(
                vec2(4, 0), vec2(-4, 0), vec2(0, 4), vec2(0, -4), vec2(3, 3), vec2(-3, -3), vec2(3, -3), vec2(-3, 3));
            var dark = 0u;
            var lit_pair = false;
            for (var k = 0u; k < 4u; k++) {
                let a = at(lx, ly, ring[2u * k].x, ring[2u * k].y) < c - LIGHT_DROP;
                let b = at(lx, ly, ring[2u * k + 1u].x, ring[2u * k + 1u].y) < c - LIGHT_DROP;
                dark += u32(a) + u32(b);
                lit_pair = lit_pair || (!a && !b);
            }
            if (dark >= 7u) {
                light = 1.0;
            } else if (dark >= 4u && lit_pair) {
                trail = 1.0;
            }
        }
        let px = channels(x, y);
        terms = array<f32, 13>(1.0, select(0.0, 1.0, m2 > EDGE * EDGE), sqrt(m2), lap, gx * gx, gy * gy, gx * gy,
            light, trail, px.x, px.y, px.z, c);
    }

    let row = (p.first_block + wg.x) * VALUES;
    for (var k = 0u; k < VALUES; k++) {
        red[i] = terms[k];
        workgroupBarrier();
        for (var half = 128u; half > 0u; half >>= 1u) {
            if (i < half) {
                red[i] += red[i + half];
            }
            workgroupBarrier();
        }
        if (i == 0u) {
            out[row + k] = red[0];
        }
        workgroupBarrier();
    }
}
