//! Logistic regression, fitted by Newton's method with an L2 penalty: the small model that
//! combines a frame's signals into the chance that a fault changed its decisions. A handful of
//! features and a few thousand rows: the exact Newton step (one d×d solve per iteration)
//! converges in a few iterations and needs no learning rate to tune.

/// A fitted model: `p = 1 / (1 + exp(-(bias + weights · x)))`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Logistic {
    pub(crate) weights: Vec<f64>,
    pub(crate) bias: f64,
}

/// Iterations at most; the log-likelihood is concave, so Newton's method is done long before.
const MAX_ITERATIONS: usize = 50;

impl Logistic {
    /// The linear score `bias + weights · x` (the log-odds).
    pub(crate) fn score(&self, x: &[f64]) -> f64 {
        self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }

    /// Fits rows `x` (each of the same length) to labels `y`, each row weighted by `weight`,
    /// with `l2` times the squared weights (not the bias) as penalty. `None` when there are no
    /// rows, the rows differ in length, or a value is not finite.
    pub(crate) fn fit(x: &[Vec<f64>], y: &[bool], weight: &[f64], l2: f64) -> Option<Logistic> {
        let d = x.first()?.len();
        if x.len() != y.len()
            || x.len() != weight.len()
            || x.iter().any(|r| r.len() != d || r.iter().any(|v| !v.is_finite()))
        {
            return None;
        }
        // Parameters: the bias first, then the weights.
        let mut beta = vec![0.0; d + 1];
        for _ in 0..MAX_ITERATIONS {
            let mut grad = vec![0.0; d + 1];
            let mut hess = vec![vec![0.0; d + 1]; d + 1];
            for ((row, &label), &w) in x.iter().zip(y).zip(weight) {
                // The row with a leading 1 for the bias.
                let xi: Vec<f64> = std::iter::once(1.0).chain(row.iter().copied()).collect();
                let p = sigmoid(beta.iter().zip(&xi).map(|(b, v)| b * v).sum());
                let r = w * (p - f64::from(u8::from(label)));
                let s = w * p * (1.0 - p);
                for ((g, h), a) in grad.iter_mut().zip(&mut hess).zip(&xi) {
                    *g += r * a;
                    for (hij, b) in h.iter_mut().zip(&xi) {
                        *hij += s * a * b;
                    }
                }
            }
            for (i, (g, h)) in grad.iter_mut().zip(&mut hess).enumerate().skip(1) {
                *g += 2.0 * l2 * beta[i];
                h[i] += 2.0 * l2;
            }
            let step = solve(hess, grad)?;
            let mut largest = 0f64;
            for (b, s) in beta.iter_mut().zip(&step) {
                *b -= s;
                largest = largest.max(s.abs());
            }
            if largest < 1e-9 {
                break;
            }
        }
        Some(Logistic { bias: beta[0], weights: beta[1..].to_vec() })
    }
}

/// The logistic function, safe at both ends.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` when `a` is
/// singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let b_col = b[col];
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (row, rhs) in rest.iter_mut().zip(&mut b[col + 1..]) {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            *rhs -= f * b_col;
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_weights_that_made_the_labels() {
        // Labels drawn from a known model: the fit comes back close to it.
        let truth = Logistic { weights: vec![2.0, -1.0], bias: 0.5 };
        let mut state = 7u64;
        let mut uniform = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let row = vec![uniform() * 4.0 - 2.0, uniform() * 4.0 - 2.0];
            y.push(uniform() < sigmoid(truth.score(&row)));
            x.push(row);
        }
        let w = vec![1.0; x.len()];
        let fit = Logistic::fit(&x, &y, &w, 0.0).unwrap();
        assert!((fit.bias - 0.5).abs() < 0.1, "{fit:?}");
        assert!(
            (fit.weights[0] - 2.0).abs() < 0.15 && (fit.weights[1] + 1.0).abs() < 0.1,
            "{fit:?}"
        );
    }

    #[test]
    fn the_penalty_keeps_separable_data_finite() {
        // Perfectly separable: without a penalty the weights would grow without end.
        let x: Vec<Vec<f64>> = (0..20).map(|i| vec![f64::from(i) - 9.5]).collect();
        let y: Vec<bool> = (0..20).map(|i| i >= 10).collect();
        let fit = Logistic::fit(&x, &y, &[1.0; 20], 0.01).unwrap();
        assert!(fit.weights[0].is_finite() && fit.weights[0] > 0.0, "{fit:?}");
        assert!(fit.score(&[5.0]) > 0.0 && fit.score(&[-5.0]) < 0.0);
    }

    #[test]
    fn refuses_what_it_cannot_fit() {
        assert_eq!(Logistic::fit(&[], &[], &[], 0.1), None);
        assert_eq!(Logistic::fit(&[vec![f64::NAN]], &[true], &[1.0], 0.1), None);
        assert_eq!(
            Logistic::fit(&[vec![1.0], vec![1.0, 2.0]], &[true, false], &[1.0; 2], 0.1),
            None
        );
    }

    #[test]
    fn sigmoid_is_safe_at_both_ends() {
        assert_eq!(sigmoid(1e4), 1.0);
        assert_eq!(sigmoid(-1e4), 0.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-12);
    }
}
