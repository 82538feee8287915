//! Scan-position grouping (upstream `RawData.generate_grouped_data`, reference data.md §3.2–3.4):
//! which `C = gridsize²` scan positions form one training sample.
//!
//! - gridsize 1: each group is one position; random mode draws `min(n_groups, n)` distinct
//!   positions (all of them, in scan order, when `n_groups >= n`).
//! - gridsize > 1, standard ("sample then group"): draw seed positions, find each seed's `K`
//!   nearest neighbours with a kd-tree (`kiddo`), drop the seed itself, and draw `C` of them.
//! - gridsize > 1 with more groups than positions (oversampling, OVERSAMPLING-001): pool the
//!   `K choose C` combinations of the neighbours of a few seeds and draw from the pool.
//!
//! The draws use [`NumpyRandomState`] in upstream's call order, so a seed gives upstream's groups.
//! Neighbour lists are sorted by (distance, index) so ties are broken deterministically.

use std::num::NonZero;

use kiddo::{ImmutableKdTree, SquaredEuclidean};

use crate::error::{DataError, Result};
use crate::rng::NumpyRandomState;

/// How to group scan positions. Field names follow upstream's `TrainingConfig`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupingParams {
    /// Number of groups to make (`n_groups`, upstream's `nsamples`).
    pub n_groups: usize,
    /// Positions per group side; `C = gridsize²`.
    pub gridsize: usize,
    /// Neighbours considered per seed (`neighbor_count`, `K`; upstream default 4).
    pub neighbor_count: usize,
    /// Seed of the draws; `None` draws a seed from the operating system.
    pub seed: Option<u32>,
    /// Use the first `n_groups` positions as seeds (upstream then forces seed 0 for the picks).
    pub sequential_sampling: bool,
    /// Allow more groups than positions by K-choose-C oversampling (gridsize > 1).
    pub enable_oversampling: bool,
    /// Neighbour pool `K` for oversampling; defaults to `neighbor_count`.
    pub neighbor_pool_size: Option<usize>,
}

impl Default for GroupingParams {
    fn default() -> Self {
        GroupingParams {
            n_groups: 512,
            gridsize: 1,
            neighbor_count: 4,
            seed: None,
            sequential_sampling: false,
            enable_oversampling: false,
            neighbor_pool_size: None,
        }
    }
}

impl GroupingParams {
    /// Channels per group, `gridsize²`.
    pub fn channels(&self) -> usize {
        self.gridsize * self.gridsize
    }
}

/// Nearest-neighbour queries over scan positions.
struct Neighbours {
    tree: ImmutableKdTree<f64, 2>,
    points: Vec<[f64; 2]>,
}

impl Neighbours {
    fn new(points: Vec<[f64; 2]>) -> Self {
        Neighbours {
            tree: ImmutableKdTree::new_from_slice(&points),
            points,
        }
    }

    /// The `k` nearest positions to position `i` (itself normally first), by distance then index.
    fn query(&self, i: usize, k: usize) -> Vec<usize> {
        let Some(k) = NonZero::new(k) else {
            return Vec::new();
        };
        let mut hits = self.tree.nearest_n::<SquaredEuclidean>(&self.points[i], k);
        hits.sort_by(|a, b| a.distance.total_cmp(&b.distance).then(a.item.cmp(&b.item)));
        hits.into_iter().map(|h| h.item as usize).collect()
    }
}

/// Groups scan positions `(x, y)`; returns `(G, C)` global indices, row-major.
pub fn group_positions(x: &[f64], y: &[f64], p: &GroupingParams) -> Result<Vec<Vec<usize>>> {
    if x.len() != y.len() {
        return Err(DataError::parameter(
            "ycoords",
            format!("length {} (as xcoords)", x.len()),
            y.len(),
        ));
    }
    if p.gridsize == 0 {
        return Err(DataError::parameter("gridsize", ">= 1", 0));
    }
    if p.n_groups == 0 {
        return Err(DataError::parameter("n_groups", ">= 1", 0));
    }
    let c = p.channels();
    let n_points = x.len();
    let effective_k = p.neighbor_pool_size.unwrap_or(p.neighbor_count);
    let needs_oversampling = p.n_groups > n_points && c > 1;
    if needs_oversampling {
        if !p.enable_oversampling {
            return Err(DataError::parameter(
                "n_groups",
                format!(
                    "<= {n_points} scan positions at gridsize {}, or enable_oversampling = true for K choose C oversampling (OVERSAMPLING-001)",
                    p.gridsize
                ),
                p.n_groups,
            ));
        }
        if effective_k < c {
            return Err(DataError::parameter(
                "neighbor_pool_size",
                format!("neighbor_pool_size >= C = {c} for oversampling"),
                effective_k,
            ));
        }
    }
    let seed_indices: Option<Vec<usize>> = p
        .sequential_sampling
        .then(|| (0..p.n_groups.min(n_points)).collect());
    let points: Vec<[f64; 2]> = x.iter().zip(y).map(|(&a, &b)| [a, b]).collect();
    if needs_oversampling {
        oversampled_groups(&points, p.n_groups, effective_k, c, p.seed, seed_indices)
    } else {
        standard_groups(
            &points,
            p.n_groups,
            p.neighbor_count,
            c,
            p.seed,
            seed_indices,
        )
    }
}

fn rng_for(seed: Option<u32>) -> NumpyRandomState {
    seed.map_or_else(NumpyRandomState::from_entropy, NumpyRandomState::new)
}

fn check_sizes(n_points: usize, k: usize, c: usize) -> Result<()> {
    if n_points < c {
        return Err(DataError::parameter(
            "gridsize",
            format!("at most {n_points} positions per group (the scan has {n_points})"),
            format!("C = {c}"),
        ));
    }
    if k < c {
        return Err(DataError::parameter(
            "neighbor_count",
            format!("K={k} must be >= C={c} (gridsize²)"),
            k,
        ));
    }
    Ok(())
}

/// upstream `_generate_groups_efficiently` (§3.3).
fn standard_groups(
    points: &[[f64; 2]],
    n_groups: usize,
    k: usize,
    c: usize,
    seed: Option<u32>,
    seed_indices: Option<Vec<usize>>,
) -> Result<Vec<Vec<usize>>> {
    let n_points = points.len();
    // Upstream reseeds with `seed` only in random mode; sequential mode forces seed 0 below.
    let mut rng = if seed_indices.is_some() {
        NumpyRandomState::new(0)
    } else {
        rng_for(seed)
    };
    if c == 1 {
        // gridsize 1 needs no neighbours; only the seed draw.
        if n_points == 0 {
            return Err(DataError::parameter(
                "xcoords",
                "at least one scan position",
                0,
            ));
        }
    } else {
        check_sizes(n_points, k, c)?;
    }
    let seeds: Vec<usize> = match seed_indices {
        Some(s) => s,
        None => {
            let n_actual = n_groups.min(n_points);
            if n_actual < n_points {
                rng.choice_without_replacement(n_points, n_actual)
            } else {
                (0..n_points).collect()
            }
        }
    };
    if c == 1 {
        return Ok(seeds.into_iter().map(|s| vec![s]).collect());
    }
    let nb = Neighbours::new(points.to_vec());
    let query_k = (k + 1).min(n_points);
    let mut groups = Vec::with_capacity(seeds.len());
    for &s in &seeds {
        let hits = nb.query(s, query_k);
        // Drop the first hit (the seed itself) when there are more than K hits.
        let neighbours: Vec<usize> = if hits.len() > k {
            hits[1..=k].to_vec()
        } else {
            hits[..k.min(hits.len())].to_vec()
        };
        let available: Vec<usize> = if neighbours.len() < c {
            std::iter::once(s).chain(neighbours).collect()
        } else {
            neighbours
        };
        let picks = if available.len() >= c {
            rng.choice_without_replacement(available.len(), c)
        } else {
            rng.choice_with_replacement(available.len(), c)
        };
        groups.push(picks.into_iter().map(|i| available[i]).collect());
    }
    Ok(groups)
}

fn binomial(n: usize, k: usize) -> usize {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    (0..k).fold(1usize, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// Calls `f` with every `c`-combination of `0..n` in lexicographic order until it returns false.
fn for_each_combination(n: usize, c: usize, mut f: impl FnMut(&[usize]) -> bool) {
    if c > n {
        return;
    }
    let mut idx: Vec<usize> = (0..c).collect();
    loop {
        if !f(&idx) {
            return;
        }
        let Some(i) = (0..c).rev().find(|&i| idx[i] != i + n - c) else {
            return;
        };
        idx[i] += 1;
        for j in i + 1..c {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// upstream `_generate_groups_with_oversampling` (§3.4); only reached with C > 1.
fn oversampled_groups(
    points: &[[f64; 2]],
    n_groups: usize,
    k: usize,
    c: usize,
    seed: Option<u32>,
    seed_indices: Option<Vec<usize>>,
) -> Result<Vec<Vec<usize>>> {
    let n_points = points.len();
    let mut rng = rng_for(seed);
    check_sizes(n_points, k, c)?;
    let max_combos = binomial(k, c).max(1);
    let min_seeds = n_groups.div_ceil(max_combos).max(1);
    let n_seeds = (2 * min_seeds).min(n_points);
    let seeds: Vec<usize> = match seed_indices {
        Some(s) if s.len() >= min_seeds => s.into_iter().take(n_seeds).collect(),
        _ if n_seeds < n_points => rng.choice_without_replacement(n_points, n_seeds),
        _ => (0..n_points).collect(),
    };
    let nb = Neighbours::new(points.to_vec());
    let query_k = (k + 1).min(n_points);
    let target = 2 * n_groups;
    let mut pool: Vec<Vec<usize>> = Vec::new();
    for &s in &seeds {
        let hits = nb.query(s, query_k);
        let neighbours: Vec<usize> = if hits.len() > k {
            hits[1..=k].to_vec()
        } else if hits.len() > 1 {
            hits[1..].to_vec()
        } else {
            hits
        };
        let available: Vec<usize> = if neighbours.len() < c {
            std::iter::once(s).chain(neighbours).collect()
        } else {
            neighbours.into_iter().take(k).collect()
        };
        for_each_combination(available.len(), c, |combo| {
            pool.push(combo.iter().map(|&i| available[i]).collect());
            pool.len() < target
        });
        if pool.len() >= target {
            break;
        }
    }
    if pool.is_empty() {
        return Err(DataError::parameter(
            "neighbor_pool_size",
            "enough neighbours to form one group",
            k,
        ));
    }
    let picks = if n_groups <= pool.len() {
        rng.choice_without_replacement(pool.len(), n_groups)
    } else {
        log::warn!(
            "requested {n_groups} groups but only {} combinations exist; sampling with replacement",
            pool.len()
        );
        rng.choice_with_replacement(pool.len(), n_groups)
    };
    Ok(picks.into_iter().map(|i| pool[i].clone()).collect())
}

/// Image-level subsampling before grouping (upstream `load_data`): the indices of
/// `min(n_subsample, n)` positions (else `min(n_images, n)`, else all), drawn with
/// `choice(n, size, replace=False)` from a generator seeded with `subsample_seed`, then sorted.
pub fn subsample_indices(
    n: usize,
    n_subsample: Option<usize>,
    n_images: Option<usize>,
    subsample_seed: Option<u32>,
) -> Result<Vec<usize>> {
    let size = match (n_subsample, n_images) {
        (Some(s), _) => s.min(n),
        (None, Some(i)) => i.min(n),
        (None, None) => n,
    };
    if size == 0 {
        return Err(DataError::parameter("n_subsample", ">= 1 scan position", 0));
    }
    if size >= n {
        return Ok((0..n).collect());
    }
    let mut idx = rng_for(subsample_seed).choice_without_replacement(n, size);
    idx.sort_unstable();
    Ok(idx)
}
