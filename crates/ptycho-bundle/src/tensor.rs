//! Named tensors as the bundle sees them: dtype, shape and little-endian bytes.
//!
//! The bundle never depends on the neural-network crate: a model converts its parameters and
//! buffers into a [`TensorMap`] to save, and describes the tensors it expects as a
//! [`ModelSchema`] to load. Bytes are always little-endian whatever the machine or the backend,
//! which is what makes a bundle portable between backends.

use std::collections::BTreeMap;

use crate::error::TensorError;

/// Element types a bundle stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    F64,
    I32,
    I64,
    U8,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::U8 => 1,
        }
    }

    /// Lower-case name used in messages (`f32`, `i64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
        }
    }

    /// True for floating-point types (checked for non-finite values).
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Dtype and shape of one tensor: what a model expects under a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl std::fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}", self.dtype, self.shape)
    }
}

fn element_count(shape: &[usize]) -> Result<usize, TensorError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &dim| acc.checked_mul(dim))
        .ok_or_else(|| TensorError::Overflow {
            shape: shape.to_vec(),
        })
}

/// One tensor: dtype, shape, and its elements as little-endian bytes in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    data: Vec<u8>,
}

macro_rules! typed_access {
    ($from:ident, $to:ident, $ty:ty, $dtype:expr) => {
        /// A tensor of this element type from values in row-major order.
        pub fn $from(shape: &[usize], values: &[$ty]) -> Result<Tensor, TensorError> {
            let expected = element_count(shape)?;
            if values.len() != expected {
                return Err(TensorError::ValueCount {
                    shape: shape.to_vec(),
                    expected,
                    found: values.len(),
                });
            }
            let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Ok(Tensor {
                dtype: $dtype,
                shape: shape.to_vec(),
                data,
            })
        }

        /// The values in row-major order, when the tensor has this element type.
        pub fn $to(&self) -> Option<Vec<$ty>> {
            (self.dtype == $dtype).then(|| {
                self.data
                    .chunks_exact(std::mem::size_of::<$ty>())
                    .map(|chunk| <$ty>::from_le_bytes(chunk.try_into().unwrap_or_default()))
                    .collect()
            })
        }
    };
}

impl Tensor {
    /// A tensor from little-endian bytes; the byte count must match dtype and shape.
    pub fn from_le_bytes(
        dtype: DType,
        shape: &[usize],
        data: Vec<u8>,
    ) -> Result<Tensor, TensorError> {
        let expected = element_count(shape)?
            .checked_mul(dtype.size())
            .ok_or_else(|| TensorError::Overflow {
                shape: shape.to_vec(),
            })?;
        if data.len() != expected {
            return Err(TensorError::ByteLength {
                dtype: dtype.name(),
                shape: shape.to_vec(),
                expected,
                found: data.len(),
            });
        }
        Ok(Tensor {
            dtype,
            shape: shape.to_vec(),
            data,
        })
    }

    typed_access!(from_f32, to_f32_vec, f32, DType::F32);
    typed_access!(from_f64, to_f64_vec, f64, DType::F64);
    typed_access!(from_i32, to_i32_vec, i32, DType::I32);
    typed_access!(from_i64, to_i64_vec, i64, DType::I64);

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Shape (row-major).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements as little-endian bytes.
    pub fn as_le_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// True when the tensor has no element (a zero-sized dimension).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Dtype and shape.
    pub fn spec(&self) -> TensorSpec {
        TensorSpec {
            dtype: self.dtype,
            shape: self.shape.clone(),
        }
    }

    /// Count of NaN / infinite elements and the flat index of the first, for float tensors.
    pub fn non_finite(&self) -> Option<(usize, usize)> {
        let flags: Vec<bool> = match self.dtype {
            DType::F32 => self
                .data
                .chunks_exact(4)
                .map(|c| !f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite())
                .collect(),
            DType::F64 => self
                .data
                .chunks_exact(8)
                .map(|c| {
                    let bytes: [u8; 8] = c.try_into().unwrap_or_default();
                    !f64::from_le_bytes(bytes).is_finite()
                })
                .collect(),
            _ => return None,
        };
        let first = flags.iter().position(|&bad| bad)?;
        Some((flags.iter().filter(|&&bad| bad).count(), first))
    }
}

/// Checks a tensor name: non-empty, printable, no whitespace, at most 256 bytes.
pub fn check_tensor_name(name: &str) -> Result<(), TensorError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 256 {
        Some("it is longer than 256 bytes")
    } else if name.starts_with("__") {
        Some("names starting with `__` are reserved by safetensors")
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some("it holds whitespace or control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(TensorError::BadName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Named tensors of one model, sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorMap {
    tensors: BTreeMap<String, Tensor>,
}

impl TensorMap {
    /// An empty map.
    pub fn new() -> Self {
        TensorMap::default()
    }

    /// Adds a tensor; a second tensor under the same name, or a bad name, is an error.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor) -> Result<(), TensorError> {
        let name = name.into();
        check_tensor_name(&name)?;
        if self.tensors.contains_key(&name) {
            return Err(TensorError::Duplicate { name });
        }
        self.tensors.insert(name, tensor);
        Ok(())
    }

    /// The tensor under `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// Removes and returns the tensor under `name`.
    pub fn remove(&mut self, name: &str) -> Option<Tensor> {
        self.tensors.remove(name)
    }

    /// Tensors in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.tensors.iter().map(|(name, t)| (name.as_str(), t))
    }

    /// Names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when the map holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total bytes of all tensors.
    pub fn byte_len(&self) -> usize {
        self.tensors.values().map(|t| t.data.len()).sum()
    }

    /// The schema this map satisfies exactly.
    pub fn schema(&self) -> ModelSchema {
        ModelSchema {
            specs: self
                .tensors
                .iter()
                .map(|(name, t)| (name.clone(), t.spec()))
                .collect(),
        }
    }
}

/// The tensors one model expects: name → dtype and shape. Loading checks a bundle's weights
/// against it exactly (no missing, no extra, no differing tensor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelSchema {
    specs: BTreeMap<String, TensorSpec>,
}

impl ModelSchema {
    /// An empty schema.
    pub fn new() -> Self {
        ModelSchema::default()
    }

    /// Adds an expected tensor (a later entry under the same name replaces the earlier one).
    pub fn with(mut self, name: impl Into<String>, dtype: DType, shape: &[usize]) -> Self {
        self.insert(name, dtype, shape);
        self
    }

    /// Adds an expected tensor.
    pub fn insert(&mut self, name: impl Into<String>, dtype: DType, shape: &[usize]) {
        self.specs.insert(
            name.into(),
            TensorSpec {
                dtype,
                shape: shape.to_vec(),
            },
        );
    }

    /// The spec under `name`.
    pub fn get(&self, name: &str) -> Option<&TensorSpec> {
        self.specs.get(name)
    }

    /// Specs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &TensorSpec)> {
        self.specs.iter().map(|(name, spec)| (name.as_str(), spec))
    }

    /// Number of expected tensors.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True when nothing is expected.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Every difference between `map` and this schema, in name order (empty when they match).
    pub fn mismatches(&self, map: &TensorMap) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, spec) in &self.specs {
            match map.get(name) {
                None => problems.push(format!("missing tensor `{name}` (expected {spec})")),
                Some(tensor) if tensor.dtype != spec.dtype => problems.push(format!(
                    "tensor `{name}` has dtype {} but the model expects {}",
                    tensor.dtype, spec.dtype
                )),
                Some(tensor) if tensor.shape != spec.shape => problems.push(format!(
                    "tensor `{name}` has shape {:?} but the model expects {:?}",
                    tensor.shape, spec.shape
                )),
                Some(_) => {}
            }
        }
        for (name, tensor) in map.iter() {
            if !self.specs.contains_key(name) {
                problems.push(format!(
                    "unexpected tensor `{name}` ({}) that the model does not have",
                    tensor.spec()
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_round_trip_is_little_endian() {
        let t = Tensor::from_f32(&[2, 2], &[1.0, -2.5, 3.25, 0.0]).unwrap();
        assert_eq!(&t.as_le_bytes()[..4], &1.0f32.to_le_bytes());
        assert_eq!(t.to_f32_vec().unwrap(), vec![1.0, -2.5, 3.25, 0.0]);
        assert_eq!(t.to_f64_vec(), None);
        assert_eq!(t.len(), 4);
        let i = Tensor::from_i64(&[3], &[1, -2, i64::MAX]).unwrap();
        assert_eq!(i.to_i64_vec().unwrap(), vec![1, -2, i64::MAX]);
    }

    #[test]
    fn wrong_sizes_are_named_errors() {
        let err = Tensor::from_f32(&[2, 3], &[1.0; 5]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape [2, 3] has 6 elements, found 5 values"
        );
        let err = Tensor::from_le_bytes(DType::F64, &[2], vec![0; 15]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tensor of dtype f64 and shape [2] needs 16 bytes, found 15"
        );
        assert!(matches!(
            Tensor::from_le_bytes(DType::F64, &[usize::MAX, 2], vec![]),
            Err(TensorError::Overflow { .. })
        ));
    }

    #[test]
    fn non_finite_values_are_counted() {
        let t = Tensor::from_f32(&[4], &[1.0, f32::NAN, 2.0, f32::INFINITY]).unwrap();
        assert_eq!(t.non_finite(), Some((2, 1)));
        let t = Tensor::from_f64(&[2], &[1.0, 2.0]).unwrap();
        assert_eq!(t.non_finite(), None);
        assert_eq!(Tensor::from_i32(&[1], &[7]).unwrap().non_finite(), None);
    }

    #[test]
    fn map_rejects_duplicates_and_bad_names() {
        let mut map = TensorMap::new();
        let t = Tensor::from_f32(&[1], &[1.0]).unwrap();
        map.insert("a.weight", t.clone()).unwrap();
        assert_eq!(
            map.insert("a.weight", t.clone()).unwrap_err().to_string(),
            "tensor `a.weight` is already in the map"
        );
        for bad in ["", "has space", "__metadata__"] {
            assert!(matches!(
                map.insert(bad, t.clone()),
                Err(TensorError::BadName { .. })
            ));
        }
    }

    #[test]
    fn schema_lists_every_mismatch() {
        let mut map = TensorMap::new();
        map.insert("a", Tensor::from_f32(&[2], &[1.0, 2.0]).unwrap())
            .unwrap();
        map.insert("b", Tensor::from_f64(&[1], &[1.0]).unwrap())
            .unwrap();
        map.insert("extra", Tensor::from_i32(&[1], &[1]).unwrap())
            .unwrap();
        let schema = ModelSchema::new()
            .with("a", DType::F32, &[3])
            .with("b", DType::F32, &[1])
            .with("c", DType::F32, &[4, 4]);
        assert_eq!(
            schema.mismatches(&map),
            vec![
                "tensor `a` has shape [2] but the model expects [3]",
                "tensor `b` has dtype f64 but the model expects f32",
                "missing tensor `c` (expected f32 [4, 4])",
                "unexpected tensor `extra` (i32 [1]) that the model does not have",
            ]
        );
        assert!(map.schema().mismatches(&map).is_empty());
    }
}
