//! The regular nested-patch scan of the 2023 paper's simulated benchmarks (upstream
//! `tf_helper.extract_nested_patches`, `diffsim.extract_coords`, `diffsim.mk_simdata`; reference
//! `model.md` Appendix B).
//!
//! Geometry: "outer" windows of side `bigN = N + (gs−1)·offset` tile the object on a regular grid
//! of stride `outer_offset / 2` (VALID padding, row-major); inside each window a gs×gs grid of
//! N×N patches sits at stride `offset`, channel `c = row·gs + col`. Every window is one group.
//!
//! Positions follow this workspace's convention (a patch "at" `(x, y)` has object pixel
//! `(row y, col x)` at its pixel `(N/2, N/2)`), i.e. a patch whose top-left pixel is `(r0, c0)`
//! sits at `(x, y) = (c0 + N/2, r0 + N/2)`. Upstream takes the centre of mass of the pixel
//! indices, `c0 + (N−1)/2`: half a pixel less on both axes. Only differences of positions enter
//! the model (the group-relative offsets, identical in both conventions), and the group centroid
//! is the window centre either way, which is what grid stitching assumes.
//!
//! Simulation (upstream `scan_and_normalize` + `illuminate_and_diffract`): object patches are
//! divided by the mean over groups of each group's maximum amplitude (`norm_Y_I`), the exit wave
//! is `s·Y·P` with `s = sqrt(nphotons / mean Σ |Y·P|²)`, the far-field intensity is Poisson
//! sampled and the stored amplitude is `sqrt(counts) / s`. Every group's patterns are drawn
//! independently, even where windows share a patch position, as upstream does. The model input
//! is that amplitude as it is (upstream's simulation path skips `normalize_data`), so simulate
//! with the probe the model will use (normalised by `probe_scale`) to start the model at the
//! right photon scale.

use ndarray::{Array2, Array4, s};
use num_complex::{Complex, Complex32};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use super::far_field_intensity;
use super::objects::lines_image;
use crate::error::{DataError, Result};
use crate::grouped::{GroupCoords, GroupedData};

/// The nested scan geometry: patch side `n`, `gridsize`, inner stride `offset` and the outer
/// stride parameter `outer_offset` (windows are `outer_offset / 2` apart, upstream's `//`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NestedGrid {
    /// Patch side N.
    pub n: usize,
    /// Patches per group side, gs.
    pub gridsize: usize,
    /// Stride between the gs×gs patches of a window.
    pub offset: usize,
    /// Twice the stride between outer windows.
    pub outer_offset: usize,
}

impl NestedGrid {
    /// Checks that every size is usable; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.n < 2 {
            return Err(DataError::parameter("N", ">= 2", self.n));
        }
        if self.gridsize == 0 {
            return Err(DataError::parameter("gridsize", ">= 1", self.gridsize));
        }
        if self.gridsize > 1 && self.offset == 0 {
            return Err(DataError::parameter(
                "offset",
                ">= 1 pixel between the patches of a group (gridsize > 1)",
                self.offset,
            ));
        }
        if self.outer_offset < 2 {
            return Err(DataError::parameter(
                "outer_offset",
                ">= 2 (windows are outer_offset / 2 pixels apart)",
                self.outer_offset,
            ));
        }
        Ok(())
    }

    /// Side of an outer window, `N + (gs−1)·offset`.
    pub fn big_n(&self) -> usize {
        self.n + self.gridsize.saturating_sub(1) * self.offset
    }

    /// Stride between windows, `outer_offset / 2` (integer division, as upstream).
    pub fn stride(&self) -> usize {
        self.outer_offset / 2
    }

    /// Windows along an object side of `side` pixels (0 when the object is smaller than one).
    pub fn windows_along(&self, side: usize) -> usize {
        if side < self.big_n() || self.stride() == 0 {
            0
        } else {
            (side - self.big_n()) / self.stride() + 1
        }
    }

    /// Groups (windows) of a square object of side `side`.
    pub fn group_count(&self, side: usize) -> usize {
        self.windows_along(side).pow(2)
    }

    /// Top-left `[row, col]` of every window, row-major.
    pub fn window_origins(&self, side: usize) -> Vec<[usize; 2]> {
        let along = self.windows_along(side);
        let stride = self.stride();
        (0..along * along)
            .map(|k| [(k / along) * stride, (k % along) * stride])
            .collect()
    }

    /// Top-left `[row, col]` of the gs×gs patches of the window at `window`, channel
    /// `c = row·gs + col`.
    pub fn patch_origins(&self, window: [usize; 2]) -> Vec<[usize; 2]> {
        let gs = self.gridsize;
        (0..gs * gs)
            .map(|c| {
                [
                    window[0] + (c / gs) * self.offset,
                    window[1] + (c % gs) * self.offset,
                ]
            })
            .collect()
    }

    /// Scan position `(x, y)` of the patch whose top-left pixel is `origin`.
    pub fn patch_position(&self, origin: [usize; 2]) -> (f64, f64) {
        let half = (self.n / 2) as f64;
        (origin[1] as f64 + half, origin[0] as f64 + half)
    }
}

/// Photon settings of a nested simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NestedSimulation {
    /// The scan geometry.
    pub grid: NestedGrid,
    /// Mean expected photons per pattern.
    pub nphotons: f64,
    /// Draw Poisson counts (false: noiseless expected amplitudes).
    pub poisson: bool,
}

/// A simulated nested scan of one or more objects.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedScan {
    /// Groups of all objects, object after object, windows row-major: raw and normalised
    /// amplitudes, ground-truth patches (`Y`), positions in each object's own pixels. `object`
    /// holds the (normalised) object when there is exactly one.
    pub grouped: GroupedData,
    /// The normalised objects (divided by `norm_y_i`), the ground truth of the patches.
    pub objects: Vec<Array2<Complex32>>,
    /// Groups per object.
    pub groups_per_object: usize,
    /// Upstream `norm_Y_I`: mean over groups of the maximum patch amplitude.
    pub norm_y_i: f64,
    /// Photon scale `s` of the simulation.
    pub intensity_scale: f64,
}

/// `count` lines objects of `size × size` (upstream `sim_object_image` with `set_phi` off: real
/// amplitude, zero phase), drawn one after the other from `rng`.
pub fn lines_objects(count: usize, size: usize, rng: &mut impl Rng) -> Vec<Array2<Complex32>> {
    (0..count)
        .map(|_| lines_image(size, rng).mapv(|a| Complex32::new(a as f32, 0.0)))
        .collect()
}

/// Simulates the nested scan of `objects` (all square, of one size) with `probe`.
pub fn simulate_nested(
    objects: &[Array2<Complex32>],
    probe: &Array2<Complex32>,
    sim: &NestedSimulation,
    rng: &mut impl Rng,
) -> Result<NestedScan> {
    let grid = sim.grid;
    grid.validate()?;
    let n = grid.n;
    if probe.dim() != (n, n) {
        return Err(DataError::parameter(
            "probe",
            format!("shape ({n}, {n}) like the patches"),
            format!("{:?}", probe.shape()),
        ));
    }
    if !(sim.nphotons > 0.0 && sim.nphotons.is_finite()) {
        return Err(DataError::parameter(
            "nphotons",
            "a positive, finite photon count",
            sim.nphotons,
        ));
    }
    let side = match objects.first() {
        Some(o) => o.nrows(),
        None => return Err(DataError::parameter("objects", "at least one object", 0)),
    };
    if let Some(bad) = objects.iter().find(|o| o.dim() != (side, side)) {
        return Err(DataError::parameter(
            "objects",
            format!("square objects of one size ({side}, {side})"),
            format!("{:?}", bad.shape()),
        ));
    }
    let windows = grid.window_origins(side);
    if windows.is_empty() {
        return Err(DataError::parameter(
            "object size",
            format!(">= the outer window side {} pixels", grid.big_n()),
            side,
        ));
    }
    let per_object = windows.len();
    let groups = per_object * objects.len();
    let c = grid.gridsize * grid.gridsize;

    let mut y = Array4::<Complex32>::zeros((groups, c, n, n));
    let mut xs = Vec::with_capacity(groups * c);
    let mut ys = Vec::with_capacity(groups * c);
    let mut members = Vec::with_capacity(groups);
    let mut max_sum = 0.0f64;
    for (oi, object) in objects.iter().enumerate() {
        for (wi, &window) in windows.iter().enumerate() {
            let g = oi * per_object + wi;
            let mut group_max = 0.0f32;
            for (ci, origin) in grid.patch_origins(window).into_iter().enumerate() {
                let patch = object.slice(s![origin[0]..origin[0] + n, origin[1]..origin[1] + n]);
                group_max = patch.iter().fold(group_max, |m, z| m.max(z.norm()));
                y.slice_mut(s![g, ci, .., ..]).assign(&patch);
                let (px, py) = grid.patch_position(origin);
                xs.push(px);
                ys.push(py);
            }
            max_sum += f64::from(group_max);
            members.push((g * c..(g + 1) * c).collect::<Vec<_>>());
        }
    }
    let norm_y_i = max_sum / groups as f64;
    if !(norm_y_i > 0.0 && norm_y_i.is_finite()) {
        return Err(DataError::parameter(
            "objects",
            "non-zero amplitude inside the scanned windows",
            norm_y_i,
        ));
    }
    let inv = (1.0 / norm_y_i) as f32;
    y.mapv_inplace(|z| z * inv);

    let probe_amp: Vec<f64> = probe.iter().map(|p| f64::from(p.norm())).collect();
    let energy = y
        .outer_iter()
        .flat_map(|group| {
            group
                .outer_iter()
                .map(|patch| {
                    patch
                        .iter()
                        .zip(&probe_amp)
                        .map(|(o, p)| (f64::from(o.norm()) * p).powi(2))
                        .sum::<f64>()
                })
                .collect::<Vec<_>>()
        })
        .sum::<f64>()
        / (groups * c) as f64;
    let scale = (sim.nphotons / energy).sqrt();
    let mut diffraction = Array4::<f32>::zeros((groups, c, n, n));
    for g in 0..groups {
        for ci in 0..c {
            let psi = Array2::from_shape_fn((n, n), |(r, col)| {
                let v = y[[g, ci, r, col]] * probe[[r, col]];
                Complex::new(f64::from(v.re), f64::from(v.im)) * scale
            });
            let expected = far_field_intensity(&psi);
            for ((r, col), lam) in expected.indexed_iter() {
                let counts = if sim.poisson && *lam > 0.0 {
                    Poisson::new(*lam).map(|d| d.sample(rng)).unwrap_or(*lam)
                } else {
                    *lam
                };
                diffraction[[g, ci, r, col]] = (counts.sqrt() / scale) as f32;
            }
        }
    }
    // Upstream's simulation path feeds `X = sqrt(counts) / s` as it is (no `normalize_data`):
    // the photon scale of the container, `sqrt(nphotons / mean Σ X²)`, is then `s` itself, so a
    // model started at that scale with the simulation's probe reproduces the data with the true
    // object, whose amplitude is O(1) by the `norm_Y_I` division.
    let x_full = diffraction.clone();
    let coords = GroupCoords::new(&xs, &ys, &members);
    let normalised: Vec<Array2<Complex32>> = objects.iter().map(|o| o.mapv(|z| z * inv)).collect();
    let grouped = GroupedData {
        nn_indices: Array2::from_shape_fn((groups, c), |(g, ci)| (g * c + ci) as i64),
        diffraction,
        x_full,
        norm: 1.0,
        y: Some(y),
        coords_start: coords.clone(),
        coords,
        object: (normalised.len() == 1).then(|| normalised[0].clone()),
        sample_indices: None,
        gridsize: grid.gridsize,
    };
    Ok(NestedScan {
        grouped,
        objects: normalised,
        groups_per_object: per_object,
        norm_y_i,
        intensity_scale: scale,
    })
}

/// The benchmark's scan: `count` fresh lines objects of `object_size` drawn from stream `stream`
/// of ChaCha8 seeded with `seed` (training and test sets use different streams of one seed, so
/// no seed's test object is another seed's training object), then [`simulate_nested`] with the
/// same generator for the photon noise.
pub fn simulate_lines(
    count: usize,
    object_size: usize,
    probe: &Array2<Complex32>,
    sim: &NestedSimulation,
    seed: u64,
    stream: u64,
) -> Result<NestedScan> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let objects = lines_objects(count, object_size, &mut rng);
    simulate_nested(&objects, probe, sim, &mut rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAPER_GS2: NestedGrid = NestedGrid {
        n: 64,
        gridsize: 2,
        offset: 4,
        outer_offset: 8,
    };

    #[test]
    fn paper_geometry_counts() {
        assert_eq!(PAPER_GS2.big_n(), 68);
        assert_eq!(PAPER_GS2.stride(), 4);
        // (392 - 68) / 4 + 1 = 82 windows per side, 6724 groups per training object
        assert_eq!(PAPER_GS2.group_count(392), 6724);
        let gs1 = NestedGrid {
            gridsize: 1,
            ..PAPER_GS2
        };
        assert_eq!(gs1.big_n(), 64);
        assert_eq!(gs1.group_count(392), 83 * 83);
        let test = NestedGrid {
            outer_offset: 20,
            ..PAPER_GS2
        };
        assert_eq!(test.windows_along(392), 33);
        // too small for one window
        assert_eq!(PAPER_GS2.group_count(67), 0);
        assert!(PAPER_GS2.window_origins(67).is_empty());
    }

    #[test]
    fn window_and_patch_positions_are_row_major() {
        let grid = NestedGrid {
            n: 8,
            gridsize: 2,
            offset: 2,
            outer_offset: 6,
        };
        // bigN 10, stride 3: (16 - 10) / 3 + 1 = 3 windows per side
        let windows = grid.window_origins(16);
        assert_eq!(windows.len(), 9);
        assert_eq!(&windows[..4], &[[0, 0], [0, 3], [0, 6], [3, 0]]);
        assert_eq!(windows[8], [6, 6]);
        assert_eq!(
            grid.patch_origins([3, 6]),
            vec![[3, 6], [3, 8], [5, 6], [5, 8]]
        );
        // (x, y) = (col + N/2, row + N/2)
        assert_eq!(grid.patch_position([3, 8]), (12.0, 7.0));
    }

    #[test]
    fn invalid_geometry_is_refused_with_the_field_named() {
        let bad = NestedGrid {
            outer_offset: 1,
            ..PAPER_GS2
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("`outer_offset`"), "{err}");
        let bad = NestedGrid {
            offset: 0,
            ..PAPER_GS2
        };
        assert!(bad.validate().unwrap_err().to_string().contains("`offset`"));
        let probe = Array2::from_elem((64, 64), Complex32::new(1.0, 0.0));
        let small = vec![Array2::from_elem((60, 60), Complex32::new(1.0, 0.0))];
        let sim = NestedSimulation {
            grid: PAPER_GS2,
            nphotons: 1e6,
            poisson: false,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let err = simulate_nested(&small, &probe, &sim, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(err.contains("object size") && err.contains("68"), "{err}");
    }

    /// An asymmetric object (value encodes row and column): every ground-truth patch must be
    /// the object window at its recorded position, and the relative offsets must follow the
    /// workspace sign (`centroid − position`).
    #[test]
    fn asymmetric_object_patches_land_where_their_positions_say() {
        let grid = NestedGrid {
            n: 8,
            gridsize: 2,
            offset: 2,
            outer_offset: 8,
        };
        let side = 22;
        let object = Array2::from_shape_fn((side, side), |(r, c)| {
            Complex32::new(1.0 + r as f32, 0.5 + c as f32)
        });
        let probe = Array2::from_elem((8, 8), Complex32::new(1.0, 0.0));
        let sim = NestedSimulation {
            grid,
            nphotons: 1e6,
            poisson: false,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let scan = simulate_nested(std::slice::from_ref(&object), &probe, &sim, &mut rng).unwrap();
        let g = &scan.grouped;
        // bigN 10, stride 4: (22 - 10) / 4 + 1 = 4 windows per side
        assert_eq!(scan.groups_per_object, 16);
        assert_eq!(g.x_full.dim(), (16, 4, 8, 8));
        let y = g.y.as_ref().unwrap();
        let norm = scan.norm_y_i as f32;
        let truth = g.object.as_ref().unwrap();
        assert!((truth[[5, 7]] * norm - object[[5, 7]]).norm() < 1e-4);
        for gi in 0..16 {
            for ci in 0..4 {
                let (x, yy) = (g.coords.nn[[gi, ci, 0, 0]], g.coords.nn[[gi, ci, 0, 1]]);
                let (r0, c0) = (yy as usize - 4, x as usize - 4);
                for (r, c) in [(0, 0), (2, 7), (7, 1)] {
                    let got = y[[gi, ci, r, c]] * norm;
                    let want = object[[r0 + r, c0 + c]];
                    assert!(
                        (got - want).norm() < 1e-3,
                        "group {gi} ch {ci}: {got} vs {want}"
                    );
                }
            }
        }
        // window 5 is (row 1, col 1) -> origin (4, 4); channel 1 is one offset to the right
        assert_eq!(g.coords.nn[[5, 1, 0, 0]], 4.0 + 2.0 + 4.0);
        assert_eq!(g.coords.nn[[5, 1, 0, 1]], 4.0 + 4.0);
        // centroid = window centre; channel 0 (top left) lies up-left of it: relative = +1, +1
        assert_eq!(g.coords.offsets[[5, 0, 0, 0]], 4.0 + 1.0 + 4.0);
        assert_eq!(g.coords.relative[[5, 0, 0, 0]], 1.0);
        assert_eq!(g.coords.relative[[5, 0, 0, 1]], 1.0);
        assert_eq!(g.coords.relative[[5, 3, 0, 0]], -1.0);
    }

    #[test]
    fn photon_scale_and_normalisation_follow_upstream() {
        let grid = NestedGrid {
            n: 8,
            gridsize: 1,
            offset: 4,
            outer_offset: 8,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let objects = lines_objects(2, 24, &mut rng);
        assert_eq!(objects.len(), 2);
        assert!(objects[0].iter().all(|z| z.im == 0.0));
        assert_ne!(objects[0], objects[1]);
        let probe = Array2::from_shape_fn((8, 8), |(r, c)| {
            Complex32::new(1.0 + 0.1 * r as f32, 0.05 * c as f32)
        });
        let nphotons = 1e6;
        let sim = NestedSimulation {
            grid,
            nphotons,
            poisson: false,
        };
        let scan = simulate_nested(&objects, &probe, &sim, &mut rng).unwrap();
        let g = &scan.grouped;
        // (24 - 8) / 4 + 1 = 5 windows per side, two objects
        assert_eq!(g.len(), 50);
        assert!(g.object.is_none());
        // noiseless: mean counts per pattern (s·X)² summed = nphotons (Parseval)
        let s = scan.intensity_scale;
        let mean_counts: f64 = g
            .diffraction
            .iter()
            .map(|&v| (f64::from(v) * s).powi(2))
            .sum::<f64>()
            / 50.0;
        assert!((mean_counts / nphotons - 1.0).abs() < 1e-4, "{mean_counts}");
        // mean over groups of the per-group maximum of the normalised patches is 1
        let y = g.y.as_ref().unwrap();
        let mean_max: f64 = y
            .outer_iter()
            .map(|grp| f64::from(grp.iter().fold(0.0f32, |m, z| m.max(z.norm()))))
            .sum::<f64>()
            / 50.0;
        assert!((mean_max - 1.0).abs() < 1e-5, "{mean_max}");
        // the model input is the simulated amplitude itself (upstream's simulation path), so
        // the container's photon scale is the simulation's `s`
        assert_eq!(g.x_full, g.diffraction);
        assert_eq!(g.norm, 1.0);
        let container_scale = crate::grouped::scale_nphotons(&g.x_full, nphotons);
        assert!(
            (container_scale / s - 1.0).abs() < 1e-4,
            "{container_scale} vs {s}"
        );
        // same seed, same data
        let mut rng2 = ChaCha8Rng::seed_from_u64(11);
        let objects2 = lines_objects(2, 24, &mut rng2);
        let again = simulate_nested(&objects2, &probe, &sim, &mut rng2).unwrap();
        assert_eq!(again.grouped.x_full, g.x_full);
    }
}
