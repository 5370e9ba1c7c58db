//! Redshift from luminosity distance, for the side panel's "z" range.
//!
//! The original used astropy's Planck15; a flat ΛCDM with its H0 and Ωm gives
//! the same redshifts to the three decimals shown (radiation and neutrinos
//! matter below 1e-4 at the distances of gravitational-wave sources). The
//! comoving integral is done with Simpson's rule and inverted by bisection:
//! a few thousand evaluations of a square root, once per picture.

/// Planck 2015 (astropy's `Planck15`): H0 in km/s/Mpc and the matter density.
const H0: f64 = 67.74;
const OMEGA_M: f64 = 0.3075;
/// The speed of light, km/s.
const C_KM_S: f64 = 299_792.458;
/// Beyond this the sources are not gravitational-wave sources.
const Z_MAX: f64 = 20.0;

/// Luminosity distance (Mpc) at redshift `z`.
pub fn luminosity_distance(z: f64) -> f64 {
    let e = |x: f64| 1.0 / (OMEGA_M * (1.0 + x).powi(3) + (1.0 - OMEGA_M)).sqrt();
    // Simpson's rule; the integrand is smooth, 64 intervals are plenty.
    let n = 64;
    let h = z / f64::from(n);
    let inner: f64 = (1..n)
        .map(|i| {
            let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
            weight * e(f64::from(i) * h)
        })
        .sum();
    let comoving = (C_KM_S / H0) * h / 3.0 * (e(0.0) + inner + e(z));
    (1.0 + z) * comoving
}

/// The redshift at luminosity distance `distance_mpc`, or `None` for a
/// distance that is not a positive finite number (or beyond z = 20).
pub fn redshift(distance_mpc: f64) -> Option<f64> {
    if !(distance_mpc.is_finite() && distance_mpc > 0.0) || luminosity_distance(Z_MAX) < distance_mpc {
        return None;
    }
    let (mut low, mut high) = (0.0, Z_MAX);
    for _ in 0..60 {
        let mid = 0.5 * (low + high);
        if luminosity_distance(mid) < distance_mpc {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(0.5 * (low + high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearby_distances_follow_the_hubble_law() {
        // d_L ≈ (c/H0)(z + (1 - q0) z²/2), q0 = Ωm/2 - ΩΛ.
        let z = 0.01;
        let q0 = OMEGA_M / 2.0 - (1.0 - OMEGA_M);
        let expected = C_KM_S / H0 * (z + (1.0 - q0) * z * z / 2.0);
        assert!((luminosity_distance(z) - expected).abs() / expected < 1e-4);
    }

    #[test]
    fn redshifts_match_astropy_planck15() {
        // astropy: z_at_value(Planck15.luminosity_distance, d * u.Mpc)
        for (d, z) in [(100.0, 0.022219), (440.0, 0.092999), (1000.0, 0.197974), (5000.0, 0.779502)] {
            let got = redshift(d).expect("a redshift");
            assert!((got - z).abs() < 2e-4 * (1.0 + z), "{d} Mpc: {got} vs {z}");
        }
        assert_eq!(redshift(0.0), None);
        assert_eq!(redshift(f64::NAN), None);
        assert_eq!(redshift(1e9), None);
    }
}
