//! From the canonical fixture and a `TrainingConfig` to the training container (upstream
//! `load_data` → `generate_grouped_data` → `loader.load`). Paths contain `raw_data`.

use ptycho_config::TrainingConfig;
use ptycho_data::pipeline::numpy_seed;
use ptycho_data::{GroupingParams, LoadOptions, prepare_training_data};

use crate::common::fixture;

fn config() -> TrainingConfig {
    let mut cfg = TrainingConfig::default();
    cfg.model.N = 32;
    cfg.model.gridsize = 2;
    cfg.n_groups = 20;
    cfg.n_subsample = Some(40);
    cfg.subsample_seed = Some(5);
    cfg.neighbor_count = 6;
    cfg.nphotons = 1e6;
    cfg
}

mod raw_data_pipeline {
    use super::*;

    #[test]
    fn raw_data_pipeline_builds_the_container_from_config() {
        let path = fixture("datasets/sim_lines_n32.npz");
        let p = prepare_training_data(&path, &config(), &LoadOptions::default()).unwrap();
        assert_eq!(
            p.scan.n_positions(),
            40,
            "n_subsample applied before grouping"
        );
        let idx = p.grouped.sample_indices.as_ref().unwrap();
        assert_eq!(idx.len(), 40);
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(p.container.x.shape(), &[20, 4, 32, 32]);
        assert!(p.container.has_ground_truth, "the fixture carries Y");
        assert!(p.container.nn_indices.iter().all(|&i| (0..40).contains(&i)));
        // same configuration, same result (grouping seeded by subsample_seed, pitfall 9)
        let again = prepare_training_data(&path, &config(), &LoadOptions::default()).unwrap();
        assert_eq!(again.container, p.container);
        let mut other = config();
        other.subsample_seed = Some(6);
        let q = prepare_training_data(&path, &other, &LoadOptions::default()).unwrap();
        assert_ne!(q.grouped.sample_indices, p.grouped.sample_indices);
        // the grouping parameters come from the config's field names
        let g = GroupingParams::from_training_config(&config()).unwrap();
        assert_eq!(
            (g.n_groups, g.gridsize, g.neighbor_count, g.seed),
            (20, 2, 6, Some(5))
        );
    }

    #[test]
    fn raw_data_pipeline_reports_model_n_mismatch_and_bad_seed() {
        let path = fixture("datasets/sim_lines_n32.npz");
        let mut cfg = config();
        cfg.model.N = 64;
        let err = prepare_training_data(&path, &cfg, &LoadOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("sim_lines_n32.npz") && msg.contains("N = 64") && msg.contains("N = 32"),
            "{msg}"
        );
        let err = numpy_seed("subsample_seed", Some(1 << 40)).unwrap_err();
        assert!(
            err.to_string().contains("`subsample_seed`") && err.to_string().contains("2^32"),
            "{err}"
        );
    }
}
