//! Adapter from ptycho-data's batch sources (in-memory container, memory-mapped dataset) to the
//! training loop's [`GroupSource`], so training streams rows without loading the whole set.

use ptycho_data::BatchSource;

use crate::batch::{GroupBatch, GroupSource};
use crate::error::ModelError;

/// Wraps any [`ptycho_data::BatchSource`] (e.g. `PtychoDataContainer`, `MemmapDataset`).
///
/// The per-sample probe of the data batches is not used: the model illuminates with the one
/// probe given to [`crate::Physics`]. The ground-truth object is passed on for gridsize 1 only
/// (the real-space term compares against the patch at the group centre).
#[derive(Debug)]
pub struct DataGroups<'a, S: BatchSource + ?Sized> {
    source: &'a S,
}

impl<'a, S: BatchSource + ?Sized> DataGroups<'a, S> {
    /// Borrows `source`.
    pub fn new(source: &'a S) -> Self {
        Self { source }
    }
}

impl<S: BatchSource + ?Sized> GroupSource for DataGroups<'_, S> {
    fn len(&self) -> usize {
        self.source.len()
    }

    fn channels(&self) -> usize {
        self.source.channels()
    }

    fn n(&self) -> usize {
        self.source.patch_size()
    }

    fn fill(&self, indices: &[usize], out: &mut GroupBatch) -> Result<(), ModelError> {
        let batch = self
            .source
            .batch(indices)
            .map_err(|e| ModelError::Source(e.to_string()))?;
        let (b, c, n) = (indices.len(), self.channels(), self.n());
        let dims = batch.diffraction.dim();
        if dims != (b, c, n, n) {
            return Err(ModelError::Shape {
                what: "data batch diffraction",
                expected: format!("({b}, {c}, {n}, {n})"),
                found: format!("{dims:?}"),
            });
        }
        out.groups = b;
        out.channels = c;
        out.n = n;
        out.amplitude.clear();
        out.amplitude.extend(batch.diffraction.iter().copied());
        // coords_relative is (B, C, 1, 2) with [x, y] last: exactly our [dx, dy] order.
        out.offsets.clear();
        out.offsets.extend(batch.coords_relative.iter().copied());
        if out.offsets.len() != b * c * 2 {
            return Err(ModelError::Shape {
                what: "data batch coords_relative",
                expected: format!("({b}, {c}, 1, 2)"),
                found: format!("{:?}", batch.coords_relative.dim()),
            });
        }
        out.object = match (&batch.y, c) {
            (Some(y), 1) => Some(y.iter().map(|z| (z.re, z.im)).unzip()),
            _ => None,
        };
        Ok(())
    }
}
