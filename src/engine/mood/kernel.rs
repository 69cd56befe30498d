//! The mood head's non-linear term: kernel ridge regression with a Gaussian
//! kernel over the rated photos (`models/head_models.py`, `KernelRidge`).
//!
//! For a picture's standardised inputs `z` (the head's `(x − mean) / scale`,
//! all 1,318 of them), the term is `Σ_j α_j exp(−γ ‖z − z_j‖²)` over the
//! fitted photos `z_j`: a picture near rated photos moves toward their
//! ratings, one far from all of them keeps the linear head's value. It is
//! computed on the CPU for both engines, from the pooled features the
//! engine returns and the colour, cue and prior inputs: about half a
//! million multiply-adds a picture, against some 300 million for the
//! network.

/// The fitted photos, their weights and the kernel's width.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// `photos x inputs`, standardised as the head standardises.
    pub points: Vec<f32>,
    /// `photos x outputs`.
    pub alpha: Vec<f32>,
    pub inputs: usize,
    pub outputs: usize,
    /// γ, already divided by the input count.
    pub gamma: f32,
}

impl Kernel {
    pub fn photos(&self) -> usize {
        self.points.len() / self.inputs
    }

    /// Adds the kernel term for standardised inputs `z` to `y`. Each
    /// squared distance is summed in eight f32 lanes (which the compiler
    /// vectorises; distances of a few thousand keep seven digits), the
    /// weighted sum of the kernel values in f64.
    pub fn add(&self, z: &[f32], y: &mut [f32]) {
        let mut acc = vec![0.0f64; self.outputs];
        for (p, a) in self.points.chunks_exact(self.inputs).zip(self.alpha.chunks_exact(self.outputs)) {
            let k = (-(self.gamma as f64) * squared_distance(p, z) as f64).exp();
            for (s, &ai) in acc.iter_mut().zip(a) {
                *s += k * ai as f64;
            }
        }
        for (yo, s) in y.iter_mut().zip(acc) {
            *yo += s as f32;
        }
    }
}

fn squared_distance(p: &[f32], z: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (pc, zc) = (p.chunks_exact(8), z.chunks_exact(8));
    let tail: f32 = pc.remainder().iter().zip(zc.remainder()).map(|(a, b)| (a - b) * (a - b)).sum();
    for (a, b) in pc.zip(zc) {
        for l in 0..8 {
            lanes[l] += (a[l] - b[l]) * (a[l] - b[l]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}
