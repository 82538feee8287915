//! `model.safetensors`: a [`TensorMap`] to and from the safetensors format.
//!
//! safetensors is a JSON header plus raw little-endian tensor bytes: no code, no pickles, and a
//! header the library bounds-checks before any byte is interpreted. Serialisation is
//! deterministic (tensors sorted by alignment, then name; no free-form metadata), so the same
//! weights always give the same bytes.

use std::borrow::Cow;

use safetensors::tensor::{Dtype, SafeTensors, View};

use crate::error::Malformed;
use crate::tensor::{DType, Tensor, TensorMap, check_tensor_name};

fn to_safetensors_dtype(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::U8 => Dtype::U8,
    }
}

fn from_safetensors_dtype(dtype: Dtype) -> Option<DType> {
    match dtype {
        Dtype::F32 => Some(DType::F32),
        Dtype::F64 => Some(DType::F64),
        Dtype::I32 => Some(DType::I32),
        Dtype::I64 => Some(DType::I64),
        Dtype::U8 => Some(DType::U8),
        _ => None,
    }
}

impl View for &Tensor {
    fn dtype(&self) -> Dtype {
        to_safetensors_dtype(Tensor::dtype(self))
    }

    fn shape(&self) -> &[usize] {
        Tensor::shape(self)
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_le_bytes())
    }

    fn data_len(&self) -> usize {
        self.as_le_bytes().len()
    }
}

/// The safetensors bytes of `map` (deterministic).
pub fn encode(map: &TensorMap) -> Result<Vec<u8>, String> {
    safetensors::tensor::serialize(map.iter(), None).map_err(|e| e.to_string())
}

/// Parses safetensors bytes into a map, refusing unsupported dtypes, bad names and non-finite
/// float values; `member` names the archive member in errors.
pub fn decode(bytes: &[u8], member: &str) -> Result<TensorMap, Malformed> {
    let parsed = SafeTensors::deserialize(bytes).map_err(|e| Malformed::Safetensors {
        member: member.to_owned(),
        reason: e.to_string().to_lowercase(),
    })?;
    let tensor_error = |tensor: &str, reason: String| Malformed::Tensor {
        member: member.to_owned(),
        tensor: tensor.to_owned(),
        reason,
    };
    let mut map = TensorMap::new();
    let mut views = parsed.tensors();
    views.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in views {
        check_tensor_name(&name).map_err(|e| tensor_error(&name, e.to_string()))?;
        let dtype = from_safetensors_dtype(view.dtype()).ok_or_else(|| {
            tensor_error(
                &name,
                format!(
                    "dtype {:?} is not stored in bundles (expected f32, f64, i32, i64 or u8)",
                    view.dtype()
                ),
            )
        })?;
        let tensor = Tensor::from_le_bytes(dtype, view.shape(), view.data().to_vec())
            .map_err(|e| tensor_error(&name, e.to_string()))?;
        if let Some((count, first)) = tensor.non_finite() {
            return Err(tensor_error(
                &name,
                format!(
                    "holds {count} non-finite value(s) (NaN or infinity; first at flat index {first}): \
                     the model diverged before it was saved"
                ),
            ));
        }
        map.insert(name.clone(), tensor)
            .map_err(|e| tensor_error(&name, e.to_string()))?;
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TensorMap {
        let mut map = TensorMap::new();
        map.insert(
            "conv.weight",
            Tensor::from_f32(&[2, 1, 3], &[0.5; 6]).unwrap(),
        )
        .unwrap();
        map.insert("log_scale", Tensor::from_f32(&[1], &[3.5]).unwrap())
            .unwrap();
        map.insert("step", Tensor::from_i64(&[], &[42]).unwrap())
            .unwrap();
        map
    }

    #[test]
    fn round_trip_is_exact_and_deterministic() {
        let map = sample();
        let bytes = encode(&map).unwrap();
        assert_eq!(bytes, encode(&map.clone()).unwrap());
        let back = decode(&bytes, "m/model.safetensors").unwrap();
        assert_eq!(back, map);
        assert_eq!(back.get("step").unwrap().to_i64_vec().unwrap(), vec![42]);
    }

    #[test]
    fn garbage_and_truncation_name_the_member() {
        let err = decode(b"not safetensors at all", "x/model.safetensors").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("member \"x/model.safetensors\" is not a valid safetensors file")
        );
        let bytes = encode(&sample()).unwrap();
        let err = decode(&bytes[..bytes.len() - 3], "x/model.safetensors").unwrap_err();
        assert!(matches!(err, Malformed::Safetensors { .. }), "{err}");
    }

    #[test]
    fn non_finite_weights_are_refused() {
        let mut map = TensorMap::new();
        map.insert("w", Tensor::from_f32(&[3], &[1.0, f32::NAN, 0.0]).unwrap())
            .unwrap();
        let err = decode(&encode(&map).unwrap(), "a/model.safetensors").unwrap_err();
        assert_eq!(
            err.to_string(),
            "member \"a/model.safetensors\", tensor `w`: holds 1 non-finite value(s) (NaN or \
             infinity; first at flat index 1): the model diverged before it was saved"
        );
    }

    #[test]
    fn a_tensor_name_twice_in_the_header_is_refused() {
        let header = br#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 8]);
        let err = decode(&bytes, "a/model.safetensors").unwrap_err();
        assert!(matches!(err, Malformed::Safetensors { .. }), "{err}");
    }

    #[test]
    fn unsupported_dtype_is_refused() {
        let data = [0u8; 4];
        let view = safetensors::tensor::TensorView::new(Dtype::F16, vec![2], &data).unwrap();
        let bytes = safetensors::tensor::serialize([("h", view)], None).unwrap();
        let err = decode(&bytes, "a/model.safetensors").unwrap_err();
        assert!(
            err.to_string()
                .contains("dtype F16 is not stored in bundles"),
            "{err}"
        );
    }
}
