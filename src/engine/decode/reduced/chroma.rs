//! The chroma path: components decoded below the output's resolution are
//! upsampled (libjpeg's "fancy" triangle filter for 2x, replication
//! otherwise), and YCbCr becomes RGB8.

use super::ReducedDecoder;
use super::pixels::Geometry;

impl ReducedDecoder {
    /// Upsamples what was decoded below the output's resolution (the
    /// triangle filter of libjpeg's "fancy" upsampling for 2x, replication
    /// otherwise) and converts JFIF YCbCr to RGB8.
    pub(super) fn write_rgb(
        &mut self,
        geometry: &[Geometry],
        widths: &[usize],
        (w, h): (usize, usize),
        out: &mut Vec<u8>,
    ) {
        out.clear();
        out.resize(w * h * 3, 0);
        if geometry.len() == 1 {
            for (o, &y) in out.chunks_exact_mut(3).zip(rows(&self.planes[0], widths[0], w, h)) {
                o.fill(to_u8(y));
            }
            return;
        }
        // Components at full resolution are read in place; the others are
        // upsampled first (the buffer is sized only when one needs it: at
        // 1/8 scale 4:2:0 chroma is decoded at full resolution already).
        let whole = |g: &Geometry| g.ux == 1 && g.uy == 1;
        self.upsampled.clear();
        if !geometry.iter().all(whole) {
            self.upsampled.resize(3 * w * h, 0.0);
        }
        for ((plane, g), (&pw, dst)) in
            self.planes.iter().zip(geometry).zip(widths.iter().zip(self.upsampled.chunks_exact_mut(w * h)))
        {
            if !whole(g) {
                upsample(plane, pw, plane.len() / pw, g.ux, g.uy, (w, h), dst);
            }
        }
        let views: [(&[f32], usize); 3] = std::array::from_fn(|k| {
            if whole(&geometry[k]) {
                (&self.planes[k][..], widths[k])
            } else {
                (&self.upsampled[k * w * h..][..w * h], w)
            }
        });
        for (y, o) in out.chunks_exact_mut(3 * w).enumerate() {
            let [ys, cbs, crs] = views.map(|(plane, stride)| &plane[y * stride..y * stride + w]);
            for (((o, &y), &cb), &cr) in o.chunks_exact_mut(3).zip(ys).zip(cbs).zip(crs) {
                let (cb, cr) = (cb - 128.0, cr - 128.0);
                o[0] = to_u8(y + 1.402 * cr);
                o[1] = to_u8(y - 0.344_136 * cb - 0.714_136 * cr);
                o[2] = to_u8(y + 1.772 * cb);
            }
        }
    }
}

/// The first `w` values of each of the first `h` rows of a plane.
fn rows(plane: &[f32], stride: usize, w: usize, h: usize) -> impl Iterator<Item = &f32> {
    plane.chunks(stride).take(h).flat_map(move |r| &r[..w])
}

#[inline(always)]
fn to_u8(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// Scales a `pw` x `ph` plane up by `rx` x `ry` into the `w` x `h` grid.
fn upsample(plane: &[f32], pw: usize, ph: usize, rx: usize, ry: usize, (w, h): (usize, usize), dst: &mut [f32]) {
    // Source coordinate of output pixel x, and the two neighbours it blends:
    // for 2x, pixel 2i is 3/4 of sample i and 1/4 of sample i-1, pixel 2i+1
    // 3/4 of i and 1/4 of i+1 (clamped at the edges).
    let taps = |r: usize, n: usize, len: usize| -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|x| {
                let i = (x / r).min(len - 1);
                if r != 2 {
                    (i, i, 1.0)
                } else if x % 2 == 0 {
                    (i, i.saturating_sub(1), 0.75)
                } else {
                    (i, (i + 1).min(len - 1), 0.75)
                }
            })
            .collect()
    };
    let (tx, ty) = (taps(rx, w, pw), taps(ry, h, ph));
    let mut row = vec![0f32; w];
    for (y, &(a, b, wy)) in ty.iter().enumerate() {
        let (ra, rb) = (&plane[a * pw..(a + 1) * pw], &plane[b * pw..(b + 1) * pw]);
        for (x, &(i, j, wx)) in tx.iter().enumerate() {
            let va = wx * ra[i] + (1.0 - wx) * ra[j];
            let vb = wx * rb[i] + (1.0 - wx) * rb[j];
            row[x] = wy * va + (1.0 - wy) * vb;
        }
        dst[y * w..(y + 1) * w].copy_from_slice(&row);
    }
}
