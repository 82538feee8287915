//! The training container (seed `TestDataContainerParity`, `TestGroundTruthLoading`): attributes,
//! shapes, dtypes, the complex64 rule for `Y` (DATA-001), ground truth at the true positions and
//! the container-level upstream bugs.

use ndarray::{Array2, Array3};
use num_complex::Complex32;
use ptycho_data::npz::NpzReader;
use ptycho_data::{
    BatchIter, BatchSource, Compression, GroupingParams, PtychoDataContainer, ScanData,
    generate_grouped_data,
};

use crate::common::{raster_scan, scan_from};

fn params(n_groups: usize, gridsize: usize, k: usize, seed: u32) -> GroupingParams {
    GroupingParams {
        n_groups,
        gridsize,
        neighbor_count: k,
        seed: Some(seed),
        ..GroupingParams::default()
    }
}

/// An asymmetric object: value (r, c) = (1000 r + c) + i (c − r).
fn asymmetric_object(h: usize, w: usize) -> Array2<Complex32> {
    Array2::from_shape_fn((h, w), |(r, c)| {
        Complex32::new((1000 * r + c) as f32, c as f32 - r as f32)
    })
}

/// The seed's minimal_raw_data: a 10×10 raster, diffraction `rand·0.5`, unit probe and object.
fn minimal_scan() -> ScanData {
    let mut s = raster_scan(10, 10, 64, 0.0);
    s.diffraction.mapv_inplace(|v| v * 0.5);
    s.object = Some(Array2::from_elem((128, 128), Complex32::new(1.0, 0.0)));
    s
}

mod data_container_parity {
    use super::*;

    #[test]
    fn data_container_shapes_and_dtypes() {
        let scan = minimal_scan();
        let g = generate_grouped_data(&scan, &params(10, 2, 4, 42)).unwrap();
        let c = PtychoDataContainer::from_grouped(&g, &scan.probe, 1e9).unwrap();
        assert_eq!(c.len(), 10);
        for (name, shape) in [
            ("X", c.x.shape()),
            ("Y_I", c.y_i.shape()),
            ("Y_phi", c.y_phi.shape()),
        ] {
            assert_eq!(shape, &[10, 4, 64, 64], "{name}");
        }
        assert_eq!(c.y.shape(), &[10, 4, 64, 64]);
        assert_eq!(c.coords_nominal.shape(), &[10, 4, 1, 2]);
        assert_eq!(c.coords_true.shape(), &[10, 4, 1, 2]);
        assert_eq!(c.coords(), &c.coords_nominal);
        assert_eq!(c.probe.shape(), &[64, 64]);
        assert_eq!(c.nn_indices.dim(), (10, 4));
        assert_eq!(c.global_offsets.shape(), &[10, 1, 1, 2]);
        assert_eq!(c.local_offsets.shape(), &[10, 4, 1, 2]);
        assert!(c.has_ground_truth);
        assert_eq!(c.yy_full.as_ref().unwrap().shape(), &[128, 128]);
        // TF layouts on demand
        assert_eq!(c.x_channel_last().shape(), &[10, 64, 64, 4]);
        assert_eq!(
            PtychoDataContainer::coords_channel_last(&c.coords_nominal).shape(),
            &[10, 1, 2, 4]
        );
        // norm_Y_I = sqrt(nphotons) / (N/2) for normalised X
        assert!((f64::from(c.norm_y_i) / (1e9f64.sqrt() / 32.0) - 1.0).abs() < 1e-4);
        // channel-last view is the same data
        let xl = c.x_channel_last();
        assert_eq!(xl[[3, 5, 7, 2]], c.x[[3, 2, 5, 7]]);
    }

    #[test]
    fn data_container_without_ground_truth_uses_unit_placeholder() {
        let mut scan = minimal_scan();
        scan.object = None;
        let g = generate_grouped_data(&scan, &params(10, 2, 4, 42)).unwrap();
        let c = PtychoDataContainer::from_grouped(&g, &scan.probe, 1e9).unwrap();
        assert!(!c.has_ground_truth);
        assert!(c.y_i.iter().all(|&v| v == 1.0) && c.y_phi.iter().all(|&v| v == 0.0));
        assert!(c.batch(&[0, 1]).unwrap().y.is_none());
    }

    #[test]
    fn data_container_rejects_bad_probe_and_nphotons() {
        let scan = minimal_scan();
        let g = generate_grouped_data(&scan, &params(4, 2, 4, 1)).unwrap();
        let err = PtychoDataContainer::from_grouped(&g, &Array2::zeros((32, 32)), 1e9).unwrap_err();
        assert!(
            err.to_string().contains("`probe`") && err.to_string().contains("(64, 64)"),
            "{err}"
        );
        let err = PtychoDataContainer::from_grouped(&g, &scan.probe, -1.0).unwrap_err();
        assert!(err.to_string().contains("`nphotons`"), "{err}");
    }

    #[test]
    fn data_container_batches_stream_every_row_once() {
        let scan = minimal_scan();
        let g = generate_grouped_data(&scan, &params(10, 2, 4, 42)).unwrap();
        let c = PtychoDataContainer::from_grouped(&g, &scan.probe, 1e9).unwrap();
        let it = BatchIter::new(&c, 4, Some(7));
        assert_eq!(it.n_batches(), 3);
        let mut seen = Vec::new();
        for b in it {
            let b = b.unwrap();
            assert_eq!(b.diffraction.shape()[1..], [4, 64, 64]);
            assert_eq!(b.coords_relative.shape()[1..], [4, 1, 2]);
            assert_eq!(b.probe.shape()[1..], [64, 64]);
            for (k, &row) in b.indices.iter().enumerate() {
                assert_eq!(
                    b.diffraction.index_axis(ndarray::Axis(0), k),
                    c.x.index_axis(ndarray::Axis(0), row)
                );
            }
            seen.extend(b.indices);
        }
        let again: Vec<usize> = BatchIter::new(&c, 4, Some(7))
            .flat_map(|b| b.unwrap().indices)
            .collect();
        assert_eq!(seen, again, "same shuffle seed, same order");
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert!(c.batch(&[10]).is_err());
    }

    /// Pitfall 20 (`loader.load(create_split=True)` leaves offsets and `nn_indices` unsplit).
    #[test]
    fn data_container_upstream_bug_split_splits_every_array() {
        let scan = minimal_scan();
        let g = generate_grouped_data(&scan, &params(10, 2, 4, 42)).unwrap();
        let c = PtychoDataContainer::from_grouped(&g, &scan.probe, 1e9).unwrap();
        let (train, test) = c.split(0.7).unwrap();
        assert_eq!((train.len(), test.len()), (7, 3));
        assert_eq!(train.nn_indices.nrows(), 7);
        assert_eq!(test.nn_indices.row(0), c.nn_indices.row(7));
        assert_eq!(test.global_offsets.shape()[0], 3);
        assert_eq!(test.local_offsets.shape()[0], 3);
        assert_eq!(
            test.global_offsets[[2, 0, 0, 1]],
            c.global_offsets[[9, 0, 0, 1]]
        );
        assert!(c.split(1.5).is_err());
    }

    /// Pitfall 19 (TF-LOADER-COORDS-001: upstream sets nominal and true coordinates to the same
    /// start offsets): ours come from the nominal and the true positions respectively.
    #[test]
    fn data_container_upstream_bug_true_coords_come_from_start_positions() {
        let mut scan = minimal_scan();
        scan.xcoords_start = scan.xcoords.mapv(|v| v * 1.1); // a scaled (not shifted) true grid
        let g = generate_grouped_data(&scan, &params(10, 2, 4, 42)).unwrap();
        let c = PtychoDataContainer::from_grouped(&g, &scan.probe, 1e9).unwrap();
        assert_ne!(c.coords_nominal, c.coords_true);
        assert_eq!(c.coords_nominal, g.coords.relative.mapv(|v| v as f32));
        assert_eq!(c.coords_true, g.coords_start.relative.mapv(|v| v as f32));
    }
}

mod ground_truth_loading {
    use super::*;

    fn element_is_complex64<T: 'static>(
        _: &ndarray::ArrayBase<impl ndarray::Data<Elem = T>, impl ndarray::Dimension>,
    ) -> bool {
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<Complex32>()
            && std::mem::size_of::<T>() == 8
    }

    /// Seed `test_y_patches_are_complex64`: Y synthesised from `objectGuess` is complex64 in the
    /// grouped set and the container, and numpy sees `complex64` in the written container.
    #[test]
    fn y_dtype_patches_from_object_are_complex64() {
        let mut scan = minimal_scan();
        scan.object = Some(asymmetric_object(128, 128));
        let g = generate_grouped_data(&scan, &params(10, 2, 4, 42)).unwrap();
        let y = g.y.as_ref().unwrap();
        assert!(element_is_complex64(y));
        let c = PtychoDataContainer::from_grouped(&g, &scan.probe, 1e9).unwrap();
        assert!(element_is_complex64(&c.y));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.npz");
        c.save_npz(&path, Compression::Stored).unwrap();
        let mut r = NpzReader::open(&path).unwrap();
        let h = r.header("Y").unwrap().unwrap();
        assert_eq!(
            (h.dtype.as_str(), h.shape.as_slice()),
            ("complex64", &[10, 64, 64, 4][..])
        );
        assert_eq!(r.header("X").unwrap().unwrap().dtype, "float32");
        assert_eq!(
            r.header("coords_nominal").unwrap().unwrap().shape,
            vec![10, 1, 2, 4]
        );
        assert_eq!(r.header("nn_indices").unwrap().unwrap().dtype, "int64");
    }

    /// A complex128 `objectGuess` in the file becomes complex64 with a DATA-001 warning, and the
    /// Y patches made from it are complex64.
    #[test]
    fn y_dtype_complex128_object_converted_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c128.npz");
        let mut m = crate::common::canonical_members(6, 8);
        let obj: Vec<num_complex::Complex64> = (0..32 * 32)
            .map(|i| num_complex::Complex64::new(i as f64, 1.0))
            .collect();
        m.insert(
            "objectGuess".into(),
            crate::common::Member::C128(vec![32, 32], obj),
        );
        crate::common::write_members(&path, &m);
        let loaded = ScanData::load(&path).unwrap();
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.key == "objectGuess" && w.message.contains("DATA-001"))
        );
        let g = generate_grouped_data(&loaded.data, &params(6, 1, 1, 0)).unwrap();
        assert!(element_is_complex64(g.y.as_ref().unwrap()));
    }

    /// Y from the file's own patches takes priority over extraction from the object.
    #[test]
    fn y_dtype_file_patches_take_priority() {
        let mut scan = raster_scan(4, 4, 8, 0.2);
        scan.object = Some(asymmetric_object(40, 40));
        scan.y_patches = Some(Array3::from_shape_fn((16, 8, 8), |(i, _, _)| {
            Complex32::new(i as f32, -1.0)
        }));
        let g = generate_grouped_data(&scan, &params(16, 2, 4, 3)).unwrap();
        let y = g.y.unwrap();
        for gi in 0..16 {
            for ci in 0..4 {
                let i = g.nn_indices[[gi, ci]] as f32;
                assert_eq!(y[[gi, ci, 3, 5]], Complex32::new(i, -1.0));
            }
        }
    }

    /// Pitfall 16 (suspected upstream bug: gs>1 ground truth extracted at `2·centroid − pos`):
    /// each channel's patch centre is the object at that member's own position.
    #[test]
    fn y_dtype_upstream_bug_patches_at_true_not_mirrored_positions() {
        let x = vec![20.0, 27.0, 20.0, 31.0];
        let y = vec![22.0, 22.0, 29.0, 33.0];
        let mut scan = scan_from(x.clone(), y.clone(), Array3::from_elem((4, 16, 16), 1.0));
        let obj = asymmetric_object(64, 64);
        scan.object = Some(obj.clone());
        let g = ptycho_data::grouped::assemble(&scan, &[vec![0, 1, 2, 3]], 2).unwrap();
        let patches = g.y.unwrap();
        let (cx, cy) = (24.5, 26.5);
        for ci in 0..4 {
            let centre = patches[[0, ci, 8, 8]];
            assert_eq!(
                centre,
                obj[[y[ci] as usize, x[ci] as usize]],
                "channel {ci}"
            );
            let (mx, my) = (2.0 * cx - x[ci], 2.0 * cy - y[ci]);
            assert_ne!(
                centre,
                obj[[my as usize, mx as usize]],
                "not the mirrored position"
            );
            // the whole patch is an exact window for integer positions
            assert_eq!(
                patches[[0, ci, 0, 15]],
                obj[[y[ci] as usize - 8, x[ci] as usize + 7]]
            );
        }
    }

    #[test]
    fn y_dtype_subpixel_patches_interpolate_and_zero_fill() {
        let obj = asymmetric_object(16, 16);
        let p = ptycho_data::patches::extract_patch(&obj, 5.5, 6.25, 4);
        // centre pixel (2,2) samples row 6.25, col 5.5
        let expect = obj[[6, 5]] * 0.75 * 0.5
            + obj[[6, 6]] * 0.75 * 0.5
            + obj[[7, 5]] * 0.25 * 0.5
            + obj[[7, 6]] * 0.25 * 0.5;
        assert!(
            (p[[2, 2]] - expect).norm() < 1e-3,
            "{} vs {}",
            p[[2, 2]],
            expect
        );
        // outside the object: zero
        let edge = ptycho_data::patches::extract_patch(&obj, 0.0, 0.0, 4);
        assert_eq!(edge[[0, 0]], Complex32::new(0.0, 0.0));
        assert_eq!(edge[[2, 2]], obj[[0, 0]]);
    }
}
