//! The little dense linear algebra learning needs: symmetric positive
//! definite solves, in f64, by Cholesky. Systems are at most a few thousand
//! unknowns (ridge in whichever of its primal or dual forms is smaller), so
//! a plain O(n³) factorisation is the right size of tool.

/// A square matrix, row-major.
#[derive(Clone, Debug)]
pub struct Square {
    pub n: usize,
    pub a: Vec<f64>,
}

impl Square {
    pub fn zeros(n: usize) -> Square {
        Square { n, a: vec![0.0; n * n] }
    }

    pub fn at(&mut self, i: usize, j: usize) -> &mut f64 {
        &mut self.a[i * self.n + j]
    }

    /// Solves `A X = B` for the columns of `b` (`n x m`, row-major) in place.
    /// Fails when `A` is not positive definite (a ridge system always is).
    pub fn solve(mut self, b: &mut [f64], m: usize) -> Result<(), String> {
        let n = self.n;
        assert_eq!(b.len(), n * m);
        // A = L Lᵀ, L stored in the lower triangle.
        for j in 0..n {
            let mut d = self.a[j * n + j];
            for k in 0..j {
                d -= self.a[j * n + k] * self.a[j * n + k];
            }
            if d <= 0.0 || !d.is_finite() {
                return Err(format!("the system is not positive definite (pivot {j} is {d:e})"));
            }
            let d = d.sqrt();
            self.a[j * n + j] = d;
            for i in j + 1..n {
                let mut s = self.a[i * n + j];
                for k in 0..j {
                    s -= self.a[i * n + k] * self.a[j * n + k];
                }
                self.a[i * n + j] = s / d;
            }
        }
        for c in 0..m {
            // L y = b, then Lᵀ x = y.
            for i in 0..n {
                let mut s = b[i * m + c];
                for k in 0..i {
                    s -= self.a[i * n + k] * b[k * m + c];
                }
                b[i * m + c] = s / self.a[i * n + i];
            }
            for i in (0..n).rev() {
                let mut s = b[i * m + c];
                for k in i + 1..n {
                    s -= self.a[k * n + i] * b[k * m + c];
                }
                b[i * m + c] = s / self.a[i * n + i];
            }
        }
        Ok(())
    }
}

/// Ridge regression without intercept: the `d x m` weights `W` minimising
/// `‖Z W − R‖² + λ ‖W‖²` for `n x d` inputs `z` and `n x m` targets `r`,
/// through the `n x n` dual system when `n < d`, else the `d x d` primal one.
pub fn ridge(z: &[f64], n: usize, d: usize, r: &[f64], m: usize, lambda: f64) -> Result<Vec<f64>, String> {
    assert_eq!(z.len(), n * d);
    assert_eq!(r.len(), n * m);
    if n < d {
        // W = Zᵀ (Z Zᵀ + λ I)⁻¹ R
        let mut g = Square::zeros(n);
        for i in 0..n {
            for j in 0..=i {
                let dot: f64 = z[i * d..(i + 1) * d].iter().zip(&z[j * d..(j + 1) * d]).map(|(a, b)| a * b).sum();
                *g.at(i, j) = dot;
                *g.at(j, i) = dot;
            }
            *g.at(i, i) += lambda;
        }
        let mut a = r.to_vec();
        g.solve(&mut a, m)?;
        let mut w = vec![0.0; d * m];
        for i in 0..n {
            for k in 0..d {
                let zik = z[i * d + k];
                for c in 0..m {
                    w[k * m + c] += zik * a[i * m + c];
                }
            }
        }
        Ok(w)
    } else {
        // W = (Zᵀ Z + λ I)⁻¹ Zᵀ R
        let mut g = Square::zeros(d);
        let mut w = vec![0.0; d * m];
        for i in 0..n {
            let row = &z[i * d..(i + 1) * d];
            for a in 0..d {
                for b in 0..=a {
                    g.a[a * d + b] += row[a] * row[b];
                }
                for c in 0..m {
                    w[a * m + c] += row[a] * r[i * m + c];
                }
            }
        }
        for a in 0..d {
            for b in 0..a {
                g.a[b * d + a] = g.a[a * d + b];
            }
            g.a[a * d + a] += lambda;
        }
        g.solve(&mut w, m)?;
        Ok(w)
    }
}
