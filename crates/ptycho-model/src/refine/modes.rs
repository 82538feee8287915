//! Mixed-state (multi-mode) probes: a partially coherent beam is an incoherent sum of
//! mutually orthogonal modes, `I = Σ_m |FFT(P_m · O)|²`. A single coherent probe cannot fit
//! such data; the object then absorbs the misfit as spurious fine structure. The extra modes
//! start as the dominant probe times low-order Hermite factors (the usual initial guess of
//! iterative solvers) and are refined with it.

use super::HostField;

/// Share of the total probe power each extra mode starts with.
pub const EXTRA_MODE_POWER: f64 = 0.1;

/// `modes` probe modes stacked as an `(modes·N) × N` field: mode 0 is `probe`, mode k > 0 is
/// `probe · h_k` with `h_k` the k-th of `x, y, x·y, x², y², …` (centred on the probe's
/// intensity centroid, in units of its RMS radius), each rescaled to [`EXTRA_MODE_POWER`] of
/// the total; the total power equals `probe`'s.
pub fn initial_modes(probe: &HostField, modes: usize) -> HostField {
    let (n, _) = probe.shape;
    let power: Vec<f64> = probe
        .re
        .iter()
        .zip(&probe.im)
        .map(|(&r, &i)| (r as f64).powi(2) + (i as f64).powi(2))
        .collect();
    let total: f64 = power.iter().sum();
    let centroid = |axis: fn(usize, usize) -> f64| -> f64 {
        power
            .iter()
            .enumerate()
            .map(|(k, p)| p * axis(k, n))
            .sum::<f64>()
            / total.max(f64::MIN_POSITIVE)
    };
    let (cy, cx) = (
        centroid(|k, n| (k / n) as f64),
        centroid(|k, n| (k % n) as f64),
    );
    let radius = (power
        .iter()
        .enumerate()
        .map(|(k, p)| p * (((k / n) as f64 - cy).powi(2) + ((k % n) as f64 - cx).powi(2)))
        .sum::<f64>()
        / total.max(f64::MIN_POSITIVE))
    .sqrt()
    .max(1.0);
    let extra = modes.saturating_sub(1);
    let main_share = (1.0 - EXTRA_MODE_POWER * extra as f64).max(EXTRA_MODE_POWER);
    let mut out = HostField {
        shape: (modes * n, n),
        re: Vec::with_capacity(modes * n * n),
        im: Vec::with_capacity(modes * n * n),
    };
    for m in 0..modes {
        let factor: Vec<f64> = (0..n * n)
            .map(|k| {
                let (y, x) = (
                    ((k / n) as f64 - cy) / radius,
                    ((k % n) as f64 - cx) / radius,
                );
                hermite_factor(m, x, y)
            })
            .collect();
        let mode_power: f64 = power.iter().zip(&factor).map(|(p, f)| p * f * f).sum();
        let share = if m == 0 { main_share } else { EXTRA_MODE_POWER };
        let scale = (share * total / mode_power.max(f64::MIN_POSITIVE)).sqrt();
        for ((re, im), f) in probe.re.iter().zip(&probe.im).zip(&factor) {
            let f = (f * scale) as f32;
            out.re.push(re * f);
            out.im.push(im * f);
        }
    }
    out
}

/// The multiplier of mode `m`: 1, x, y, x·y, x², y², then higher products.
fn hermite_factor(m: usize, x: f64, y: f64) -> f64 {
    match m {
        0 => 1.0,
        1 => x,
        2 => y,
        3 => x * y,
        4 => x * x - 1.0,
        5 => y * y - 1.0,
        _ => x.powi((m / 2) as i32) * y.powi((m % 2) as i32 + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: usize) -> HostField {
        let c = n as f64 / 2.0 + 1.3;
        let (re, im): (Vec<f32>, Vec<f32>) = (0..n * n)
            .map(|k| {
                let (y, x) = ((k / n) as f64 - c, (k % n) as f64 - c + 2.0);
                let a = (-(x * x + 0.6 * y * y) / 18.0).exp();
                ((a * (0.2 * x).cos()) as f32, (a * (0.2 * x).sin()) as f32)
            })
            .unzip();
        HostField {
            shape: (n, n),
            re,
            im,
        }
    }

    fn mode_power(f: &HostField, m: usize, n: usize) -> f64 {
        (m * n * n..(m + 1) * n * n)
            .map(|k| (f.re[k] as f64).powi(2) + (f.im[k] as f64).powi(2))
            .sum()
    }

    #[test]
    fn modes_keep_the_total_power_and_start_near_orthogonal() {
        let n = 32;
        let probe = blob(n);
        let total = mode_power(&probe, 0, n);
        let modes = initial_modes(&probe, 3);
        assert_eq!(modes.shape, (3 * n, n));
        let powers: Vec<f64> = (0..3).map(|m| mode_power(&modes, m, n)).collect();
        assert!(
            (powers.iter().sum::<f64>() - total).abs() < 1e-4 * total,
            "{powers:?}"
        );
        assert!((powers[0] / total - 0.8).abs() < 1e-5, "{powers:?}");
        assert!((powers[1] / total - 0.1).abs() < 1e-5, "{powers:?}");
        // The x-mode is odd about the centroid, so its overlap with the even-ish main mode is
        // small compared with their norms.
        let overlap: f64 = (0..n * n)
            .map(|k| (modes.re[k] * modes.re[n * n + k] + modes.im[k] * modes.im[n * n + k]) as f64)
            .sum();
        assert!(
            overlap.abs() < 0.05 * (powers[0] * powers[1]).sqrt(),
            "{overlap}"
        );
    }

    #[test]
    fn one_mode_is_the_probe_itself() {
        let probe = blob(16);
        assert_eq!(initial_modes(&probe, 1), probe);
    }
}
