//! Simulation (far-field physics, determinism, scans, probes) and the checked-in fixture dataset
//! `fixtures/datasets/sim_lines_n32.npz` made by it.

use ndarray::Array2;
use num_complex::{Complex, Complex32};
use ptycho_data::simulate::fixture::{read_manifest, write_simulated_dataset};
use ptycho_data::simulate::{far_field_intensity, objects};
use ptycho_data::{
    Compression, GroupingParams, ObjectKind, ProbeSource, PtychoDataContainer, ScanData, ScanKind,
    SimulationConfig, generate_grouped_data, simulate,
};

use crate::common::fixture;

fn small(seed: u64) -> SimulationConfig {
    SimulationConfig {
        n: 16,
        object_size: 64,
        n_images: 20,
        nphotons: 1e5,
        seed,
        ..SimulationConfig::default()
    }
}

#[test]
fn far_field_is_parseval_normalised_and_centred() {
    let n = 16;
    let flat = Array2::from_elem((n, n), Complex::new(1.0, 0.0));
    let i = far_field_intensity(&flat);
    assert!(
        (i[[8, 8]] - 256.0).abs() < 1e-9,
        "DC at (N/2, N/2) after fftshift"
    );
    assert!((i.sum() - 256.0).abs() < 1e-9, "sum I = sum |psi|^2");
    // sign convention: exp(+2πi·3c/N) peaks at column N/2 + 3; exp(+2πi·2r/N) at row N/2 + 2
    let ramp = Array2::from_shape_fn((n, n), |(r, c)| {
        Complex::from_polar(
            1.0,
            2.0 * std::f64::consts::PI * (3.0 * c as f64 + 2.0 * r as f64) / n as f64,
        )
    });
    let j = far_field_intensity(&ramp);
    let (peak, _) = j.indexed_iter().fold(
        ((0, 0), 0.0),
        |best, (ix, &v)| if v > best.1 { (ix, v) } else { best },
    );
    assert_eq!(peak, (10, 11));
}

#[test]
fn simulation_counts_match_nphotons_without_noise() {
    let cfg = SimulationConfig {
        poisson: false,
        ..small(3)
    };
    let scan = simulate(&cfg).unwrap();
    let y = scan.y_patches.as_ref().unwrap();
    let energy: f64 = y
        .outer_iter()
        .map(|p| {
            p.iter()
                .zip(scan.probe.iter())
                .map(|(o, q)| f64::from(o.norm() * q.norm()).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / 20.0;
    let s = (cfg.nphotons / energy).sqrt();
    let mean_counts: f64 = scan
        .diffraction
        .iter()
        .map(|&a| (f64::from(a) * s).powi(2))
        .sum::<f64>()
        / 20.0;
    assert!(
        (mean_counts / cfg.nphotons - 1.0).abs() < 1e-4,
        "{mean_counts}"
    );
    // ground truth is the object patch at each position (object only, not times the probe)
    let obj = scan.object.as_ref().unwrap();
    let p = ptycho_data::patches::extract_patch(obj, scan.xcoords[4], scan.ycoords[4], 16);
    assert_eq!(y.index_axis(ndarray::Axis(0), 4), p);
}

#[test]
fn simulation_poisson_counts_are_integers_and_seeded() {
    let cfg = small(11);
    let a = simulate(&cfg).unwrap();
    let b = simulate(&cfg).unwrap();
    assert_eq!(a, b, "same seed, same data");
    let c = simulate(&small(12)).unwrap();
    assert_ne!(a.diffraction, c.diffraction);
    let y = a.y_patches.as_ref().unwrap();
    let energy: f64 = y
        .outer_iter()
        .map(|p| {
            p.iter()
                .zip(a.probe.iter())
                .map(|(o, q)| f64::from(o.norm() * q.norm()).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / 20.0;
    let s = (cfg.nphotons / energy).sqrt();
    let counts: Vec<f64> = a
        .diffraction
        .iter()
        .map(|&v| (f64::from(v) * s).powi(2))
        .collect();
    let integral = counts
        .iter()
        .filter(|c| (*c - c.round()).abs() < 0.05 * c.max(1.0).sqrt())
        .count();
    assert!(integral as f64 > 0.99 * counts.len() as f64);
    let total: f64 = counts.iter().sum::<f64>() / 20.0;
    assert!((total / 1e5 - 1.0).abs() < 0.01, "{total}");
}

#[test]
fn simulation_grid_scan_grf_object_and_probe_from_npz() {
    let dir = tempfile::tempdir().unwrap();
    let probe_file = dir.path().join("probe.npz");
    let first = simulate(&small(1)).unwrap();
    let mut custom = first.clone();
    custom.probe = Array2::from_shape_fn((16, 16), |(r, c)| {
        Complex32::new(1.0, (r as f32 - c as f32) * 0.01)
    });
    custom.save(&probe_file, Compression::Deflated).unwrap();
    let cfg = SimulationConfig {
        object: ObjectKind::Grf,
        probe: ProbeSource::Npz(probe_file),
        scan: ScanKind::Grid { step: 6.0 },
        n_images: 25,
        ..small(2)
    };
    let scan = simulate(&cfg).unwrap();
    assert_eq!(scan.probe, custom.probe);
    assert_eq!(scan.xcoords.to_vec()[..3], [8.0, 14.0, 20.0]);
    assert_eq!(scan.ycoords[0], 8.0);
    let amp = scan.object.as_ref().unwrap().mapv(|v| v.norm());
    assert!((amp.iter().copied().fold(0.0f32, f32::max) - 1.0).abs() < 1e-5);
    let err = simulate(&SimulationConfig {
        scan: ScanKind::Grid { step: 30.0 },
        ..cfg
    })
    .unwrap_err();
    assert!(err.to_string().contains("`n_images`"), "{err}");
}

#[test]
fn default_probe_is_a_centred_disk() {
    let p = objects::default_probe(64);
    assert!((p[[32, 32]].re - 1.0).abs() < 1e-3);
    assert!(p[[0, 0]].re < 1e-6 && p[[0, 0]].re > 0.0);
    assert_eq!(p[[20, 40]], p[[40, 20]]);
    assert!(p.iter().all(|v| v.im == 0.0));
}

#[test]
fn simulated_dataset_loads_groups_and_trains_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.npz");
    let m = write_simulated_dataset(&small(5), &path).unwrap();
    assert_eq!(m.shapes["diffraction"], vec![20, 16, 16]);
    let loaded = ScanData::load(&path).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let g = generate_grouped_data(
        &loaded.data,
        &GroupingParams {
            n_groups: 10,
            gridsize: 2,
            neighbor_count: 6,
            seed: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let c = PtychoDataContainer::from_grouped(&g, &loaded.data.probe, 1e5).unwrap();
    assert!(c.has_ground_truth);
    assert_eq!(c.y.shape(), &[10, 4, 16, 16]);
}

/// The checked-in fixture: its manifest matches the file (sha256, shapes), it is a valid
/// canonical dataset, and regenerating it from the manifest's configuration gives the same arrays.
#[test]
fn fixture_dataset_matches_manifest_and_regenerates() {
    let manifest = read_manifest(&fixture("datasets/sim_lines_n32.json")).unwrap();
    let path = fixture("datasets").join(&manifest.file);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "fixture under 2 MB: {size}");
    let loaded = ScanData::load(&path).unwrap();
    assert!(loaded.warnings.is_empty());
    assert_eq!(
        loaded.data.diffraction.shape(),
        manifest.shapes["diffraction"].as_slice()
    );
    assert_eq!(
        loaded.data.object.as_ref().unwrap().shape(),
        manifest.shapes["objectGuess"].as_slice()
    );
    let dir = tempfile::tempdir().unwrap();
    let (sha, _) = ptycho_data::memmap::manifest::sha256_file(&path).unwrap();
    assert_eq!(sha, manifest.sha256, "the manifest's sha256 is the file's");
    // Regenerating gives identical arrays (compressed bytes may differ with the deflate backend
    // the build links, so the comparison is on the decoded data).
    let again_path = dir.path().join(&manifest.file);
    let again = write_simulated_dataset(&manifest.config, &again_path).unwrap();
    assert_eq!(again.shapes, manifest.shapes);
    // Compared to float precision rather than bit for bit: another build's math or FFT kernels
    // may differ in the last ulp, which must not fail the check (a Poisson draw may then differ
    // in a handful of pixels at most).
    let again = ScanData::load(&again_path).unwrap().data;
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * a.abs().max(b.abs()) + 1e-6;
    let off = again
        .diffraction
        .iter()
        .zip(loaded.data.diffraction.iter())
        .filter(|(a, b)| !close(f64::from(**a), f64::from(**b)))
        .count();
    assert!(
        off * 10_000 <= again.diffraction.len(),
        "{off} diffraction pixels differ"
    );
    assert_eq!(again.xcoords, loaded.data.xcoords);
    assert_eq!(again.ycoords, loaded.data.ycoords);
    for (a, b) in [
        (
            again.probe.view().into_dyn(),
            loaded.data.probe.view().into_dyn(),
        ),
        (
            again.object.as_ref().unwrap().view().into_dyn(),
            loaded.data.object.as_ref().unwrap().view().into_dyn(),
        ),
        (
            again.y_patches.as_ref().unwrap().view().into_dyn(),
            loaded.data.y_patches.as_ref().unwrap().view().into_dyn(),
        ),
    ] {
        assert!(
            a.iter()
                .zip(b.iter())
                .all(|(u, v)| close(f64::from(u.re), f64::from(v.re))
                    && close(f64::from(u.im), f64::from(v.im)))
        );
    }
    let sums = std::fs::read_to_string(fixture("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{}  datasets/{}", manifest.sha256, manifest.file)),
        "SHA256SUMS lists the fixture"
    );
}
