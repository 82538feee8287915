//! RawData grouping (seed `TestRawDataTorchAdapter`, and ports of upstream's
//! `test_raw_data_grouping.py`, `test_coordinate_grouping.py`, `test_sequential_sampling.py`,
//! `test_subsampling.py`, `test_oversampling.py`), plus the golden example of data.md §3.9 and a
//! test per upstream grouping bug. Every test path contains `raw_data` (the seed's selector).

use ndarray::Axis;
use ptycho_data::grouped::{GroupCoords, normalization_factor, scale_nphotons};
use ptycho_data::{
    GroupingParams, generate_grouped_data, group_positions, intensity_scale, subsample_indices,
};

use crate::common::{golden_scan, raster_scan, scan_from};

fn params(n_groups: usize, gridsize: usize, k: usize, seed: Option<u32>) -> GroupingParams {
    GroupingParams {
        n_groups,
        gridsize,
        neighbor_count: k,
        seed,
        ..GroupingParams::default()
    }
}

fn rows(a: &ndarray::Array2<i64>) -> Vec<Vec<i64>> {
    a.outer_iter().map(|r| r.to_vec()).collect()
}

fn mean_energy(x: &ndarray::Array4<f32>) -> f64 {
    let (g, c, _, _) = x.dim();
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / (g * c) as f64
}

mod raw_data_golden {
    use super::*;

    #[test]
    fn raw_data_golden_gridsize2_seed42() {
        let scan = golden_scan();
        assert!((scan.xcoords[0] - 54.8814).abs() < 1e-4 && (scan.ycoords[4] - 1.879).abs() < 1e-3);
        let g = generate_grouped_data(&scan, &params(5, 2, 4, Some(42))).unwrap();
        assert_eq!(
            rows(&g.nn_indices),
            vec![
                vec![19, 10, 18, 17],
                vec![14, 6, 9, 26],
                vec![17, 13, 18, 25],
                vec![13, 27, 23, 18],
                vec![7, 5, 20, 1]
            ]
        );
        // the seeds were [27, 15, 23, 17, 8]; none is in its own group
        for (row, seed) in rows(&g.nn_indices).iter().zip([27, 15, 23, 17, 8]) {
            assert!(!row.contains(&seed));
        }
        assert!((g.coords.offsets[[0, 0, 0, 0]] - 81.8128).abs() < 1e-4);
        assert!((g.coords.offsets[[0, 0, 0, 1]] - 29.1893).abs() < 1e-4);
        let rel_x = [-5.1884, 2.6403, 3.9972, -1.4491];
        let rel_y = [-7.1817, -6.7615, -2.3535, 16.2967];
        for c in 0..4 {
            assert!(
                (g.coords.relative[[0, c, 0, 0]] - rel_x[c]).abs() < 1e-4,
                "x{c}"
            );
            assert!(
                (g.coords.relative[[0, c, 0, 1]] - rel_y[c]).abs() < 1e-4,
                "y{c}"
            );
        }
        assert_eq!(g.x_full.shape(), &[5, 4, 8, 8]);
        assert!(
            (mean_energy(&g.x_full) - 16.0).abs() < 1e-3,
            "{}",
            mean_energy(&g.x_full)
        );
        assert!(g.y.is_none(), "no objectGuess, no Y");
    }

    #[test]
    fn raw_data_golden_gridsize1_seed42() {
        let g = generate_grouped_data(&golden_scan(), &params(5, 1, 4, Some(42))).unwrap();
        assert_eq!(
            rows(&g.nn_indices),
            vec![vec![27], vec![15], vec![23], vec![17], vec![8]]
        );
        assert_eq!(g.diffraction.shape(), &[5, 1, 8, 8]);
        assert!(
            g.coords.relative.iter().all(|&v| v == 0.0),
            "C=1: offsets are the positions"
        );
    }

    #[test]
    fn raw_data_golden_sequential_ignores_seed() {
        let p = GroupingParams {
            sequential_sampling: true,
            ..params(5, 2, 4, Some(123))
        };
        let g = generate_grouped_data(&golden_scan(), &p).unwrap();
        assert_eq!(
            rows(&g.nn_indices),
            vec![
                vec![11, 2, 25, 29],
                vec![12, 7, 5, 3],
                vec![5, 11, 3, 28],
                vec![5, 28, 6, 2],
                vec![25, 0, 24, 29]
            ]
        );
    }

    #[test]
    fn raw_data_golden_oversampling() {
        let p = GroupingParams {
            enable_oversampling: true,
            neighbor_pool_size: Some(5),
            ..params(40, 2, 5, Some(7))
        };
        let g = generate_grouped_data(&golden_scan(), &p).unwrap();
        assert_eq!(g.nn_indices.dim(), (40, 4));
        assert_eq!(
            rows(&g.nn_indices)[..3],
            [vec![2, 3, 0, 6], vec![24, 29, 4, 14], vec![25, 11, 2, 28]]
        );
    }
}

mod raw_data_torch_adapter {
    use super::*;

    /// Seed: `test_raw_data_torch_matches_tensorflow` (N=64, K=4, ns=10, gs=2, seed=42): shapes,
    /// dtypes, and one implementation giving identical results for identical inputs.
    #[test]
    fn raw_data_torch_matches_tensorflow() {
        let scan = raster_scan(10, 10, 64, 0.0);
        let p = params(10, 2, 4, Some(42));
        let a = generate_grouped_data(&scan, &p).unwrap();
        let b = generate_grouped_data(&scan, &p).unwrap();
        assert_eq!(a.diffraction.shape(), &[10, 4, 64, 64]);
        assert_eq!(a.nn_indices.dim(), (10, 4));
        assert_eq!(a.coords.offsets.shape(), &[10, 1, 1, 2]);
        assert_eq!(a, b);
        // raw diffraction is the member patterns, un-normalised
        for gi in 0..10 {
            for ci in 0..4 {
                let i = a.nn_indices[[gi, ci]] as usize;
                assert_eq!(
                    a.diffraction
                        .index_axis(Axis(0), gi)
                        .index_axis(Axis(0), ci),
                    scan.diffraction.index_axis(Axis(0), i)
                );
            }
        }
    }
}

mod raw_data_grouping {
    use super::*;

    #[test]
    fn raw_data_output_shape() {
        let s = raster_scan(20, 20, 8, 0.0);
        let g = group_positions(
            &s.xcoords.to_vec(),
            &s.ycoords.to_vec(),
            &params(100, 2, 7, Some(42)),
        )
        .unwrap();
        assert_eq!((g.len(), g[0].len()), (100, 4));
    }

    #[test]
    fn raw_data_content_validity() {
        let s = raster_scan(20, 20, 8, 0.3);
        let (x, y) = (s.xcoords.to_vec(), s.ycoords.to_vec());
        let g = group_positions(&x, &y, &params(100, 2, 8, Some(42))).unwrap();
        for grp in &g {
            assert!(grp.iter().all(|&i| i < 400));
            let mut u = grp.clone();
            u.sort_unstable();
            u.dedup();
            assert_eq!(u.len(), 4, "members are distinct");
            let cx = grp.iter().map(|&i| x[i]).sum::<f64>() / 4.0;
            let cy = grp.iter().map(|&i| y[i]).sum::<f64>() / 4.0;
            let far = grp
                .iter()
                .map(|&i| ((x[i] - cx).powi(2) + (y[i] - cy).powi(2)).sqrt())
                .fold(0.0, f64::max);
            assert!(far < 2.0 * 8f64.sqrt(), "spatially coherent: {far}");
        }
    }

    #[test]
    fn raw_data_more_samples_than_points_caps_without_oversampling_at_gridsize1() {
        let s = raster_scan(5, 4, 4, 0.2);
        let g = group_positions(
            &s.xcoords.to_vec(),
            &s.ycoords.to_vec(),
            &params(120, 1, 4, Some(1)),
        )
        .unwrap();
        assert_eq!(g.len(), 20);
        // scan order when n_groups >= n (upstream behaviour, pitfall 7)
        assert_eq!(
            g.iter().map(|v| v[0]).collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
    }

    #[test]
    fn raw_data_k_less_than_c_is_rejected() {
        let s = raster_scan(5, 5, 4, 0.2);
        let err = group_positions(
            &s.xcoords.to_vec(),
            &s.ycoords.to_vec(),
            &params(10, 2, 3, Some(1)),
        )
        .unwrap_err();
        assert!(err.to_string().contains("K=3 must be >= C=4"), "{err}");
    }

    #[test]
    fn raw_data_small_dataset() {
        let x = vec![0.0, 1.0, 2.5, 0.3, 1.7];
        let y = vec![0.0, 0.4, 1.0, 2.0, 2.2];
        let p = GroupingParams {
            n_groups: 3,
            gridsize: 1,
            neighbor_count: 4,
            seed: Some(3),
            ..Default::default()
        };
        assert_eq!(group_positions(&x, &y, &p).unwrap().len(), 3);
        // more than the points at C > 1 without oversampling is an error naming the opt-in
        let err = group_positions(&x, &y, &params(10, 2, 4, Some(3))).unwrap_err();
        assert!(
            err.to_string().contains("enable_oversampling")
                && err.to_string().contains("OVERSAMPLING-001"),
            "{err}"
        );
        // two points, K=1, C=1
        let g = group_positions(&[0.0, 1.0], &[0.0, 0.0], &params(1, 1, 1, Some(0))).unwrap();
        assert_eq!(g.len(), 1);
        assert!(g[0][0] < 2);
    }

    #[test]
    fn raw_data_reproducible_and_seed_sensitive() {
        let s = raster_scan(20, 20, 4, 0.3);
        let (x, y) = (s.xcoords.to_vec(), s.ycoords.to_vec());
        let a = group_positions(&x, &y, &params(50, 2, 7, Some(12345))).unwrap();
        let b = group_positions(&x, &y, &params(50, 2, 7, Some(12345))).unwrap();
        let c = group_positions(&x, &y, &params(50, 2, 7, Some(12346))).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // unseeded runs differ (upstream default_behavior_is_random)
        let u1 = group_positions(&x, &y, &params(50, 2, 7, None)).unwrap();
        let u2 = group_positions(&x, &y, &params(50, 2, 7, None)).unwrap();
        assert_ne!(u1, u2);
    }

    #[test]
    fn raw_data_uniform_sampling_gridsize1() {
        let s = raster_scan(10, 10, 4, 0.3);
        let (x, y) = (s.xcoords.to_vec(), s.ycoords.to_vec());
        let mut counts = [0usize; 100];
        for seed in 0..100 {
            for g in group_positions(&x, &y, &params(20, 1, 4, Some(seed))).unwrap() {
                counts[g[0]] += 1;
            }
        }
        // expected 20 draws per point; > 80% of points within [1/3, 3] times that
        let ok = counts
            .iter()
            .filter(|&&c| (20 / 3..=60).contains(&c))
            .count();
        assert!(ok > 80, "{counts:?}");
    }

    #[test]
    fn raw_data_grouped_integration_shapes_gridsize1_and_2() {
        let mut s = raster_scan(10, 10, 16, 0.3);
        s.object = Some(ndarray::Array2::from_elem(
            (40, 40),
            num_complex::Complex32::new(1.0, 0.5),
        ));
        let g = generate_grouped_data(&s, &params(50, 2, 7, Some(5))).unwrap();
        assert_eq!(g.diffraction.shape(), &[50, 4, 16, 16]);
        assert_eq!(g.coords.offsets.shape(), &[50, 1, 1, 2]);
        assert_eq!(g.coords.relative.shape(), &[50, 4, 1, 2]);
        assert_eq!(g.coords.nn.shape(), &[50, 4, 1, 2]);
        assert_eq!(g.nn_indices.dim(), (50, 4));
        assert_eq!(g.y.as_ref().unwrap().shape(), &[50, 4, 16, 16]);
        let g1 = generate_grouped_data(&s, &params(100, 1, 7, Some(5))).unwrap();
        assert_eq!(g1.diffraction.shape(), &[100, 1, 16, 16]);
        assert_eq!(g1.nn_indices.dim(), (100, 1));
    }

    #[test]
    fn raw_data_large_grouping_is_correct() {
        // upstream's performance test (10 000 points, 512 groups) as a correctness check; speed
        // lives in the criterion benchmark
        let s = raster_scan(100, 100, 2, 0.4);
        let (x, y) = (s.xcoords.to_vec(), s.ycoords.to_vec());
        let g = group_positions(&x, &y, &params(512, 2, 8, Some(9))).unwrap();
        assert_eq!(g.len(), 512);
        for grp in &g {
            let span = grp
                .iter()
                .flat_map(|&a| grp.iter().map(move |&b| (a, b)))
                .map(|(a, b)| ((x[a] - x[b]).powi(2) + (y[a] - y[b]).powi(2)).sqrt())
                .fold(0.0, f64::max);
            assert!(span < 5.0, "{span}");
        }
    }
}

mod raw_data_sequential_sampling {
    use super::*;

    fn collinear(n: usize) -> (Vec<f64>, Vec<f64>) {
        (
            (0..n).map(|i| i as f64).collect(),
            (0..n).map(|i| 2.0 * i as f64).collect(),
        )
    }

    #[test]
    fn raw_data_sequential_uses_first_points_and_is_deterministic() {
        let (x, y) = collinear(100);
        let p = GroupingParams {
            sequential_sampling: true,
            ..params(10, 2, 7, None)
        };
        let a = group_positions(&x, &y, &p).unwrap();
        let b = group_positions(&x, &y, &p).unwrap();
        assert_eq!(a, b);
        assert!(a.iter().map(|g| *g.iter().min().unwrap()).max().unwrap() < 30);
        let p42 = GroupingParams {
            seed: Some(42),
            ..p.clone()
        };
        let p123 = GroupingParams {
            seed: Some(123),
            ..p
        };
        assert_eq!(
            group_positions(&x, &y, &p42).unwrap(),
            group_positions(&x, &y, &p123).unwrap()
        );
    }

    #[test]
    fn raw_data_sequential_order_gridsize1() {
        let (x, y) = collinear(20);
        let p = GroupingParams {
            sequential_sampling: true,
            ..params(5, 1, 3, None)
        };
        let g: Vec<usize> = group_positions(&x, &y, &p)
            .unwrap()
            .into_iter()
            .map(|v| v[0])
            .collect();
        assert_eq!(g, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn raw_data_sequential_vs_random_coverage() {
        let (x, y) = collinear(100);
        let seq = GroupingParams {
            sequential_sampling: true,
            ..params(20, 2, 7, None)
        };
        let mean =
            |g: Vec<Vec<usize>>| g.iter().flatten().sum::<usize>() as f64 / (g.len() * 4) as f64;
        let s = mean(group_positions(&x, &y, &seq).unwrap());
        let r = mean(group_positions(&x, &y, &params(20, 2, 7, Some(42))).unwrap());
        assert!(s < r, "{s} vs {r}");
    }

    #[test]
    fn raw_data_sequential_edge_cases() {
        let (x, y) = collinear(100);
        let p = GroupingParams {
            sequential_sampling: true,
            ..params(110, 1, 7, None)
        };
        assert_eq!(group_positions(&x, &y, &p).unwrap().len(), 100);
        let p = GroupingParams {
            sequential_sampling: true,
            ..params(110, 2, 7, None)
        };
        assert!(
            group_positions(&x, &y, &p)
                .unwrap_err()
                .to_string()
                .contains("K choose C oversampling")
        );
        let p = GroupingParams {
            sequential_sampling: true,
            enable_oversampling: true,
            neighbor_pool_size: Some(7),
            ..params(110, 2, 7, None)
        };
        assert_eq!(group_positions(&x, &y, &p).unwrap().len(), 110);
        let p = GroupingParams {
            sequential_sampling: true,
            ..params(100, 2, 7, None)
        };
        assert_eq!(group_positions(&x, &y, &p).unwrap().len(), 100);
    }
}

mod raw_data_oversampling {
    use super::*;

    fn cloud() -> (Vec<f64>, Vec<f64>) {
        let mut rs = ptycho_data::NumpyRandomState::new(11);
        let x = (0..100).map(|_| rs.uniform(0.0, 200.0)).collect();
        let y = (0..100).map(|_| rs.uniform(0.0, 200.0)).collect();
        (x, y)
    }

    #[test]
    fn raw_data_oversampling_counts_and_guards() {
        let (x, y) = cloud();
        assert_eq!(
            group_positions(&x, &y, &params(50, 2, 7, Some(1)))
                .unwrap()
                .len(),
            50
        );
        let over = |k: usize, n: usize, pool: Option<usize>| GroupingParams {
            enable_oversampling: true,
            neighbor_pool_size: pool,
            ..params(n, 2, k, Some(1))
        };
        assert_eq!(
            group_positions(&x, &y, &over(7, 200, None)).unwrap().len(),
            200
        );
        for k in 5..=8 {
            let g = group_positions(&x, &y, &over(k, 150, None)).unwrap();
            assert_eq!(g.len(), 150);
            assert!(g.iter().all(|m| m.len() == 4));
        }
        let err = group_positions(&x, &y, &over(7, 150, Some(3))).unwrap_err();
        assert!(
            err.to_string().contains("neighbor_pool_size >= C = 4"),
            "{err}"
        );
        assert_eq!(
            group_positions(&x, &y, &params(150, 1, 7, Some(1)))
                .unwrap()
                .len(),
            100
        );
        let a = group_positions(&x, &y, &over(7, 150, None)).unwrap();
        let b = group_positions(&x, &y, &over(7, 150, None)).unwrap();
        let c = group_positions(
            &x,
            &y,
            &GroupingParams {
                seed: Some(2),
                ..over(7, 150, None)
            },
        )
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

mod raw_data_subsampling {
    use super::*;

    #[test]
    fn raw_data_subsample_counts_and_precedence() {
        assert_eq!(
            subsample_indices(1000, Some(200), None, Some(1))
                .unwrap()
                .len(),
            200
        );
        assert_eq!(
            subsample_indices(1000, None, Some(300), Some(1))
                .unwrap()
                .len(),
            300
        );
        assert_eq!(
            subsample_indices(1000, Some(150), Some(500), Some(1))
                .unwrap()
                .len(),
            150
        );
        assert_eq!(
            subsample_indices(1000, Some(5000), None, Some(1)).unwrap(),
            (0..1000).collect::<Vec<_>>()
        );
        assert_eq!(
            subsample_indices(1000, None, None, None).unwrap().len(),
            1000
        );
        let err = subsample_indices(1000, Some(0), None, Some(1)).unwrap_err();
        assert!(err.to_string().contains("`n_subsample`"), "{err}");
    }

    #[test]
    fn raw_data_subsample_seeded_sorted_and_numpy_compatible() {
        let a = subsample_indices(1000, Some(200), None, Some(42)).unwrap();
        assert_eq!(
            a,
            subsample_indices(1000, Some(200), None, Some(42)).unwrap()
        );
        assert_ne!(
            a,
            subsample_indices(1000, Some(200), None, Some(123)).unwrap()
        );
        assert!(a.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
        // upstream: np.random.seed(42); sort(choice(arange(30), 5, replace=False))
        assert_eq!(
            subsample_indices(30, Some(5), None, Some(42)).unwrap(),
            vec![8, 15, 17, 23, 27]
        );
    }

    #[test]
    fn raw_data_subsample_keeps_rows_consistent() {
        let mut s = raster_scan(10, 10, 4, 0.2);
        s.y_patches = Some(ndarray::Array3::from_shape_fn((100, 4, 4), |(i, _, _)| {
            num_complex::Complex32::new(i as f32, 0.0)
        }));
        let idx = subsample_indices(100, Some(20), None, Some(3)).unwrap();
        let sub = s.select(&idx);
        assert_eq!(sub.n_positions(), 20);
        assert_eq!(sub.y_patches.as_ref().unwrap().shape()[0], 20);
        for (k, &i) in idx.iter().enumerate() {
            assert_eq!(sub.xcoords[k], s.xcoords[i]);
            assert_eq!(sub.y_patches.as_ref().unwrap()[[k, 0, 0]].re, i as f32);
            assert_eq!(sub.scan_index[k], i as i64);
        }
    }
}

mod raw_data_normalization {
    use super::*;

    #[test]
    fn raw_data_normalize_targets_half_n_squared() {
        let g =
            generate_grouped_data(&raster_scan(6, 6, 32, 0.3), &params(20, 2, 6, Some(2))).unwrap();
        assert!(
            (mean_energy(&g.x_full) - 256.0).abs() < 0.05,
            "{}",
            mean_energy(&g.x_full)
        );
        assert_eq!(g.norm, normalization_factor(&g.diffraction).unwrap());
        // intensity scale: dataset-derived equals the closed form for normalised data
        let s = scale_nphotons(&g.x_full, 1e9);
        assert!((s / intensity_scale(1e9, 32) - 1.0).abs() < 1e-5);
    }

    /// Pitfall 22 (uint16 overflow in the normalisation constant): we accumulate in f64, so large
    /// count-like amplitudes give the exact factor.
    #[test]
    fn raw_data_upstream_bug_normalization_does_not_overflow() {
        let d = ndarray::Array3::from_elem((4, 8, 8), 300.0f32); // 300² = 90 000 > 65 535
        let s = scan_from(vec![0.0, 1.0, 0.0, 1.0], vec![0.0, 0.0, 1.0, 1.0], d);
        let g = generate_grouped_data(&s, &params(4, 1, 1, Some(0))).unwrap();
        let expected = (16.0f64 / (64.0 * 90_000.0)).sqrt() as f32;
        assert_eq!(g.norm, expected);
        assert!((mean_energy(&g.x_full) - 16.0).abs() < 1e-3);
    }

    #[test]
    fn raw_data_all_zero_diffraction_is_an_error() {
        let s = scan_from(
            vec![0.0, 1.0],
            vec![0.0, 0.0],
            ndarray::Array3::zeros((2, 4, 4)),
        );
        let err = generate_grouped_data(&s, &params(2, 1, 1, Some(0))).unwrap_err();
        assert!(
            err.to_string().contains("`diffraction`") && err.to_string().contains("non-zero"),
            "{err}"
        );
    }
}

mod raw_data_coords {
    use super::*;

    /// Pitfall 15: `coords_relative = centroid - position` (sign −1), checked on an asymmetric group.
    #[test]
    fn raw_data_coords_relative_sign_is_minus_one() {
        let x = [10.0, 14.0, 10.0, 30.0];
        let y = [5.0, 5.0, 9.0, 1.0];
        let c = GroupCoords::new(&x, &y, &[vec![0, 1, 2, 3]]);
        let (cx, cy) = (16.0, 5.0);
        assert_eq!(c.offsets[[0, 0, 0, 0]], cx);
        assert_eq!(c.offsets[[0, 0, 0, 1]], cy);
        for i in 0..4 {
            assert_eq!(c.relative[[0, i, 0, 0]], cx - x[i]);
            assert_eq!(c.relative[[0, i, 0, 1]], cy - y[i]);
            assert_eq!(
                c.positions()[[0, i, 0, 0]],
                x[i],
                "global - local recovers the position"
            );
            assert_eq!(c.positions()[[0, i, 0, 1]], y[i]);
        }
        // C = 1: relative offsets vanish
        let c1 = GroupCoords::new(&x, &y, &[vec![3]]);
        assert!(c1.relative.iter().all(|&v| v == 0.0));
    }

    /// Pitfall 19: nominal and true (start) positions are kept apart.
    #[test]
    fn raw_data_start_coordinates_are_grouped_separately() {
        let mut s = raster_scan(5, 5, 4, 0.2);
        s.xcoords_start = s.xcoords.mapv(|v| v + 0.25);
        let g = generate_grouped_data(&s, &params(10, 2, 4, Some(1))).unwrap();
        let d = &g.coords_start.nn - &g.coords.nn;
        for gi in 0..10 {
            for ci in 0..4 {
                assert!((d[[gi, ci, 0, 0]] - 0.25).abs() < 1e-12);
                assert_eq!(d[[gi, ci, 0, 1]], 0.0);
            }
        }
        let dr = &g.coords_start.relative - &g.coords.relative;
        assert!(
            dr.iter().all(|v| v.abs() < 1e-12),
            "a shift leaves relative offsets"
        );
    }
}
