//! Redshift from luminosity distance, for the side panel's "z" range.
//!
//! The original used astropy's Planck15. Its expansion rate is reproduced to
//! 1e-6 up to z = 5 by a flat model with the massive neutrino counted as matter
//! and the photons plus massless neutrinos as radiation, so the redshifts agree
//! with astropy's `z_at_value` far beyond the three decimals shown. The
//! comoving integral is done with Simpson's rule and inverted by bisection: a
//! few thousand square roots, once per picture.

/// Planck 2015 (astropy's `Planck15`): H0 in km/s/Mpc; matter (0.3075) plus
/// the 0.06 eV neutrino (0.001411); photons plus the two massless neutrinos.
const H0: f64 = 67.74;
const OMEGA_M: f64 = 0.3075 + 0.001_411;
const OMEGA_R: f64 = 5.389e-5 + 2.485e-5;
const OMEGA_L: f64 = 1.0 - OMEGA_M - OMEGA_R;
/// The speed of light, km/s.
const C_KM_S: f64 = 299_792.458;
/// Beyond this the sources are not gravitational-wave sources.
const Z_MAX: f64 = 20.0;

/// Luminosity distance (Mpc) at redshift `z`.
pub fn luminosity_distance(z: f64) -> f64 {
    let e = |x: f64| {
        let a = 1.0 + x;
        1.0 / (OMEGA_M * a.powi(3) + OMEGA_R * a.powi(4) + OMEGA_L).sqrt()
    };
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
    if !(distance_mpc.is_finite() && distance_mpc > 0.0)
        || luminosity_distance(Z_MAX) < distance_mpc
    {
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
        let q0 = OMEGA_M / 2.0 + OMEGA_R - OMEGA_L;
        let expected = C_KM_S / H0 * (z + (1.0 - q0) * z * z / 2.0);
        assert!((luminosity_distance(z) - expected).abs() / expected < 1e-4);
    }

    #[test]
    fn redshifts_match_astropy_planck15() {
        // astropy: z_at_value(Planck15.luminosity_distance, d * u.Mpc)
        for (d, z) in [
            (100.0, 0.022219),
            (440.0, 0.092999),
            (1000.0, 0.197974),
            (5000.0, 0.779502),
        ] {
            let got = redshift(d).expect("a redshift");
            assert!((got - z).abs() < 2e-5 * (1.0 + z), "{d} Mpc: {got} vs {z}");
        }
        assert_eq!(redshift(0.0), None);
        assert_eq!(redshift(f64::NAN), None);
        assert_eq!(redshift(1e9), None);
    }
}
