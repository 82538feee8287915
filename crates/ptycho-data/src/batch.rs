//! Training batches: the one shape every dataset hands to the model crate.
//!
//! Both the in-memory [`crate::container::PtychoDataContainer`] and the memory-mapped
//! [`crate::memmap::MemmapDataset`] implement [`BatchSource`]; [`BatchIter`] streams batches from
//! either, in order or shuffled with a seed, allocating only one batch at a time.

use ndarray::{Array3, Array4};
use num_complex::Complex32;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::error::Result;

/// One training batch, channel-first.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingBatch {
    /// Row (group) indices of the batch in its dataset.
    pub indices: Vec<usize>,
    /// `(B, C, N, N)` normalised diffraction amplitudes (the model input `X`).
    pub diffraction: Array4<f32>,
    /// `(B, C, 1, 2)` member offsets relative to the group centroid, `[x, y]`, sign −1.
    pub coords_relative: Array4<f32>,
    /// `(B, 1, 1, 2)` group centroids in object pixels, `[x, y]`.
    pub coords_offsets: Array4<f64>,
    /// `(B, N, N)` the probe of each sample's scan.
    pub probe: Array3<Complex32>,
    /// `(B, C, N, N)` ground-truth patches when the dataset has them.
    pub y: Option<Array4<Complex32>>,
}

/// A dataset that can produce training batches by row index.
pub trait BatchSource {
    /// Rows (groups) in the dataset.
    fn len(&self) -> usize;
    /// Whether the dataset has no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Channels per row, `C = gridsize²`.
    fn channels(&self) -> usize;
    /// Pattern size `N`.
    fn patch_size(&self) -> usize;
    /// Gathers rows `indices` into a batch.
    fn batch(&self, indices: &[usize]) -> Result<TrainingBatch>;
}

/// Streams batches of a [`BatchSource`]; the last batch may be short.
#[derive(Debug)]
pub struct BatchIter<'a, S: BatchSource + ?Sized> {
    source: &'a S,
    order: Vec<usize>,
    batch_size: usize,
    position: usize,
}

impl<'a, S: BatchSource + ?Sized> BatchIter<'a, S> {
    /// Batches of `batch_size` rows (at least 1), in row order, or shuffled by `shuffle_seed`
    /// (ChaCha8; the same seed gives the same order).
    pub fn new(source: &'a S, batch_size: usize, shuffle_seed: Option<u64>) -> Self {
        let mut order: Vec<usize> = (0..source.len()).collect();
        if let Some(seed) = shuffle_seed {
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        }
        BatchIter {
            source,
            order,
            batch_size: batch_size.max(1),
            position: 0,
        }
    }

    /// Number of batches in one pass.
    pub fn n_batches(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }
}

impl<S: BatchSource + ?Sized> Iterator for BatchIter<'_, S> {
    type Item = Result<TrainingBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.position >= self.order.len() {
            return None;
        }
        let end = (self.position + self.batch_size).min(self.order.len());
        let rows = &self.order[self.position..end];
        self.position = end;
        Some(self.source.batch(rows))
    }
}
