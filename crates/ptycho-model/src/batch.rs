//! Host-side batches of grouped diffraction data and the trait the training loop reads them
//! through (so a memory-mapped dataset can stream batches without loading everything).

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::ModelError;
use crate::physics::{Complex, GroupGeometry, Physics};

/// One batch of groups on the host, channels-first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupBatch {
    /// Groups in the batch.
    pub groups: usize,
    /// Patterns per group (`gridsize²`).
    pub channels: usize,
    /// Pattern side.
    pub n: usize,
    /// Normalised diffraction amplitudes `X`, `[groups, channels, n, n]`.
    pub amplitude: Vec<f32>,
    /// `coords_relative` offsets `[groups, channels, 2]` as `[dx, dy]` pixels.
    pub offsets: Vec<f32>,
    /// Optional known object at the group centre (`[groups, n, n]` re and im), for the
    /// real-space MAE term.
    pub object: Option<(Vec<f32>, Vec<f32>)>,
}

impl GroupBatch {
    /// An empty batch of the given layout, ready for [`GroupSource::fill`].
    pub fn empty(channels: usize, n: usize) -> Self {
        Self {
            channels,
            n,
            ..Self::default()
        }
    }

    /// Checks that every array matches `groups × channels × n × n`.
    pub fn validate(&self) -> Result<(), ModelError> {
        let per = self.channels * self.n * self.n;
        let checks = [
            (
                "diffraction amplitudes",
                self.amplitude.len(),
                self.groups * per,
            ),
            (
                "offsets",
                self.offsets.len(),
                self.groups * self.channels * 2,
            ),
        ];
        for (what, found, expected) in checks {
            if found != expected {
                return Err(ModelError::Shape {
                    what,
                    expected: format!("{expected} values"),
                    found: format!("{found} values"),
                });
            }
        }
        if let Some(bad) = self.amplitude.iter().find(|v| !v.is_finite() || **v < 0.0) {
            return Err(ModelError::setting(
                "diffraction",
                "finite non-negative amplitudes",
                bad,
            ));
        }
        if let Some((re, im)) = &self.object {
            let expected = self.groups * self.n * self.n;
            if re.len() != expected || im.len() != expected {
                return Err(ModelError::Shape {
                    what: "ground-truth object",
                    expected: format!("{expected} values per part"),
                    found: format!("{} and {}", re.len(), im.len()),
                });
            }
        }
        Ok(())
    }
}

/// A data set of groups that can fill batches by index (in memory or memory-mapped).
pub trait GroupSource {
    /// Number of groups.
    fn len(&self) -> usize;
    /// True when there are no groups.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Patterns per group.
    fn channels(&self) -> usize;
    /// Pattern side.
    fn n(&self) -> usize;
    /// Writes the groups `indices` (in that order) into `out`, replacing its contents.
    fn fill(&self, indices: &[usize], out: &mut GroupBatch) -> Result<(), ModelError>;
}

/// Groups held in memory (tests, small scans, simulated data).
#[derive(Debug, Clone)]
pub struct InMemoryGroups {
    /// All groups as one batch.
    pub all: GroupBatch,
}

impl InMemoryGroups {
    /// Validates and wraps a batch holding every group.
    pub fn new(all: GroupBatch) -> Result<Self, ModelError> {
        all.validate()?;
        Ok(Self { all })
    }
}

impl GroupSource for InMemoryGroups {
    fn len(&self) -> usize {
        self.all.groups
    }

    fn channels(&self) -> usize {
        self.all.channels
    }

    fn n(&self) -> usize {
        self.all.n
    }

    fn fill(&self, indices: &[usize], out: &mut GroupBatch) -> Result<(), ModelError> {
        let (c, n) = (self.all.channels, self.all.n);
        let per = c * n * n;
        out.groups = indices.len();
        out.channels = c;
        out.n = n;
        out.amplitude.clear();
        out.offsets.clear();
        let mut object = self.all.object.as_ref().map(|_| (Vec::new(), Vec::new()));
        for &i in indices {
            if i >= self.all.groups {
                return Err(ModelError::Source(format!(
                    "group index {i} out of range for {} groups",
                    self.all.groups
                )));
            }
            out.amplitude
                .extend_from_slice(&self.all.amplitude[i * per..(i + 1) * per]);
            out.offsets
                .extend_from_slice(&self.all.offsets[i * c * 2..(i + 1) * c * 2]);
            if let (Some((re, im)), Some((src_re, src_im))) = (&mut object, &self.all.object) {
                re.extend_from_slice(&src_re[i * n * n..(i + 1) * n * n]);
                im.extend_from_slice(&src_im[i * n * n..(i + 1) * n * n]);
            }
        }
        out.object = object;
        Ok(())
    }
}

/// A batch moved to the device, with its translation matrices.
#[derive(Debug, Clone)]
pub struct DeviceBatch {
    /// Normalised amplitudes `X`, `[B, C, N, N]`.
    pub amplitude: Tensor<4>,
    /// Reassembly / extraction geometry of the groups.
    pub geometry: GroupGeometry,
    /// Known object `[B, 1, N, N]`, if the batch carried one.
    pub object: Option<Complex<4>>,
}

impl DeviceBatch {
    /// Validates `batch` against the physics and uploads it.
    pub fn new(batch: &GroupBatch, physics: &Physics, device: &Device) -> Result<Self, ModelError> {
        batch.validate()?;
        let spec = physics.spec();
        if batch.n != spec.n || batch.channels != spec.channels() {
            return Err(ModelError::Shape {
                what: "batch layout (channels, N)",
                expected: format!("({}, {})", spec.channels(), spec.n),
                found: format!("({}, {})", batch.channels, batch.n),
            });
        }
        let (b, c, n) = (batch.groups, batch.channels, batch.n);
        let amplitude = Tensor::from_data(
            TensorData::new(batch.amplitude.clone(), [b, c, n, n]),
            device,
        );
        let geometry = physics.geometry(&batch.offsets, b)?;
        let object = batch.object.as_ref().map(|(re, im)| {
            Complex::new(
                Tensor::from_data(TensorData::new(re.clone(), [b, 1, n, n]), device),
                Tensor::from_data(TensorData::new(im.clone(), [b, 1, n, n]), device),
            )
        });
        Ok(Self {
            amplitude,
            geometry,
            object,
        })
    }
}
