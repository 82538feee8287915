//! Numpy `.npz` archives, read and written so that numpy loads what we write and we load what numpy
//! writes (compressed or stored, C or Fortran order, any byte order).
//!
//! This module knows nothing about the ptychography contract: it moves typed n-d arrays in and out
//! of archives, keeping the numpy dtype name for error messages. The contract lives in
//! [`crate::contract`]. Writing lives in [`write`].

mod write;

pub use write::{Compression, NpzElement, NpzWriter};
pub(crate) use write::{publish_permissions, write_error};

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use npyz::{DType, TypeChar};
use num_complex::{Complex32, Complex64};

use crate::error::{DataError, Problem, Result};

/// The element data of an array read from an archive, widened to a few working types.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    C64(Vec<Complex32>),
    C128(Vec<Complex64>),
    /// Every signed, unsigned and boolean integer type, widened to i64.
    Int(Vec<i64>),
    /// A dtype this pipeline never reads numerically (strings, pickled objects, records).
    Unsupported,
}

/// Shape and numpy dtype name of an archive member, read without its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayHeader {
    /// Shape in C (row-major) order.
    pub shape: Vec<usize>,
    /// The numpy name of the dtype, e.g. `float32`, `complex128`, `uint16`, `object`.
    pub dtype: String,
    /// True when the member is stored in Fortran order (we convert to C order on read).
    pub fortran_order: bool,
}

/// One array read from an archive, in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub dtype: String,
    pub data: ArrayData,
}

/// The stream of one archive member: its `.npy` preamble (read and checked by us) followed by
/// the rest of the member.
type MemberStream<'a, R> = std::io::Chain<std::io::Cursor<Vec<u8>>, zip::read::ZipFile<'a, R>>;

/// An archive member being read as `.npy`.
type NpyMember<'a, R> = npyz::NpyFile<MemberStream<'a, R>>;

/// Reads the `.npy` preamble (magic, version, header length) of a member of declared size
/// `size`, refusing a header length larger than the member (npyz would allocate it blindly).
fn read_preamble(file: &mut impl Read, size: u64) -> std::result::Result<Vec<u8>, String> {
    let mut pre = vec![0u8; 10];
    file.read_exact(&mut pre)
        .map_err(|e| format!("member too short for a .npy preamble: {e}"))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err("magic not found for NPY file".to_owned());
    }
    let header_len = match pre[6] {
        1 => u64::from(u16::from_le_bytes([pre[8], pre[9]])),
        2 | 3 => {
            let mut rest = [0u8; 2];
            file.read_exact(&mut rest)
                .map_err(|e| format!("member too short for a .npy preamble: {e}"))?;
            pre.extend_from_slice(&rest);
            u64::from(u32::from_le_bytes([pre[8], pre[9], rest[0], rest[1]]))
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    let used = pre.len() as u64;
    if header_len > size.saturating_sub(used) {
        return Err(format!(
            "header length {header_len} exceeds the member's {size} bytes"
        ));
    }
    Ok(pre)
}

/// Reads members of one `.npz` archive: a file ([`NpzReader::open`]) or any seekable reader
/// ([`NpzReader::from_reader`], e.g. a `Cursor` over bytes in memory).
pub struct NpzReader<R = BufReader<File>> {
    path: PathBuf,
    archive: zip::ZipArchive<R>,
    names: Vec<String>,
}

impl<R> std::fmt::Debug for NpzReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzReader")
            .field("path", &self.path)
            .field("names", &self.names)
            .finish()
    }
}

/// The numpy name of a dtype (`float32`, `uint16`, ...), used in every message.
pub fn dtype_name(dtype: &DType) -> String {
    match dtype {
        DType::Plain(ts) => {
            let bits = ts.size_field() * 8;
            match ts.type_char() {
                TypeChar::Bool => "bool".into(),
                TypeChar::Int => format!("int{bits}"),
                TypeChar::Uint => format!("uint{bits}"),
                TypeChar::Float => format!("float{bits}"),
                TypeChar::Complex => format!("complex{bits}"),
                TypeChar::Object => "object".into(),
                TypeChar::ByteStr => format!("bytes{}", ts.size_field()),
                TypeChar::UnicodeStr => format!("str{}", ts.size_field()),
                other => format!("{other:?}").to_lowercase(),
            }
        }
        DType::Array(..) => "subarray".into(),
        DType::Record(_) => "record".into(),
    }
}

fn format_error(path: &Path, key: &str, err: impl std::fmt::Display) -> DataError {
    DataError::invalid(
        path,
        key,
        Problem::Format,
        "a readable numpy .npy member",
        err.to_string(),
    )
}

/// Rearranges Fortran-ordered data of `shape` into C order.
fn fortran_to_c<T: Clone>(data: Vec<T>, shape: &[usize]) -> std::result::Result<Vec<T>, String> {
    if shape.len() < 2 {
        return Ok(data);
    }
    ArrayD::from_shape_vec(IxDyn(shape).f(), data)
        .map(|arr| arr.as_standard_layout().iter().cloned().collect())
        .map_err(|e| format!("fortran-order data inconsistent with shape {shape:?}: {e}"))
}

/// Bytes the data of a plain-dtype member needs: the product of its shape times the element
/// size; `None` on overflow (a header claiming more than any file can hold).
fn data_bytes(shape: &[u64], element: u64) -> Option<u64> {
    shape.iter().try_fold(element, |acc, &d| acc.checked_mul(d))
}

/// The error for a member whose header claims more data than the archive says the member holds.
fn oversized(path: &Path, name: &str, shape: &[u64], needed: Option<u64>, size: u64) -> DataError {
    let needed = needed.map_or_else(|| "more than 2^64".to_owned(), |b| b.to_string());
    DataError::invalid(
        path,
        name,
        Problem::Format,
        format!("at most {size} data bytes (the member's size in the archive)"),
        format!("a header claiming shape {shape:?}, {needed} bytes"),
    )
}

impl NpzReader {
    /// Opens an archive file and lists its members.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| DataError::io(&path, "cannot open", e))?;
        NpzReader::from_reader(BufReader::new(file), path)
    }
}

impl<R: Read + Seek> NpzReader<R> {
    /// The `.npy` member `name`, header parsed; `None` when the archive has no such member. A
    /// header longer than the member, or a plain-dtype header claiming more data bytes than the
    /// member's declared (uncompressed) size, is refused here, before anything is allocated.
    fn member(&mut self, name: &str) -> Result<Option<NpyMember<'_, R>>> {
        let mut file = match self.archive.by_name(&format!("{name}.npy")) {
            Ok(file) => file,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(format_error(&self.path, name, e)),
        };
        let size = file.size();
        let pre = read_preamble(&mut file, size).map_err(|e| format_error(&self.path, name, e))?;
        let stream = std::io::Read::chain(std::io::Cursor::new(pre), file);
        let npy = npyz::NpyFile::new(stream).map_err(|e| format_error(&self.path, name, e))?;
        if let DType::Plain(ts) = npy.dtype() {
            let needed = data_bytes(npy.shape(), ts.num_bytes().unwrap_or(0) as u64);
            if needed.is_none_or(|b| b > size) {
                return Err(oversized(&self.path, name, npy.shape(), needed, size));
            }
        }
        Ok(Some(npy))
    }

    /// Reads an archive from any seekable reader and lists its members; `path` names the archive
    /// in errors (the path API [`NpzReader::open`] is this over a buffered file).
    pub fn from_reader(reader: R, path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let archive = zip::ZipArchive::new(reader).map_err(|e| {
            DataError::invalid(
                &path,
                "(archive)",
                Problem::Format,
                "a numpy .npz (zip) archive",
                e.to_string(),
            )
        })?;
        // numpy names member `x` of `np.savez(..., x=...)` `x.npy`; other members are not arrays.
        let mut names = Vec::new();
        for name in archive.file_names() {
            let name = name.map_err(|e| {
                DataError::invalid(
                    &path,
                    "(archive)",
                    Problem::Format,
                    "member names in utf-8",
                    e.to_string(),
                )
            })?;
            if let Some(array) = name.strip_suffix(".npy") {
                names.push(array.to_string());
            }
        }
        names.sort();
        Ok(NpzReader {
            path,
            archive,
            names,
        })
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Member names without the `.npy` suffix, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the archive has a member `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Reads the shape and dtype of a member without its data; `None` when absent.
    pub fn header(&mut self, name: &str) -> Result<Option<ArrayHeader>> {
        let Some(npy) = self.member(name)? else {
            return Ok(None);
        };
        Ok(Some(ArrayHeader {
            shape: npy.shape().iter().map(|&d| d as usize).collect(),
            dtype: dtype_name(&npy.dtype()),
            fortran_order: npy.order() == npyz::Order::Fortran,
        }))
    }

    /// Reads a member in C order; `None` when absent.
    pub fn read(&mut self, name: &str) -> Result<Option<NpyArray>> {
        let path = self.path.clone();
        let Some(npy) = self.member(name)? else {
            return Ok(None);
        };
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let dtype = npy.dtype();
        let fortran = npy.order() == npyz::Order::Fortran;
        let name_of_dtype = dtype_name(&dtype);
        let err = |e: std::io::Error| format_error(&path, name, e);
        let little =
            matches!(&dtype, DType::Plain(ts) if ts.endianness() == npyz::Endianness::Little);
        let fast = match &dtype {
            DType::Plain(ts) if little => matches!(
                (ts.type_char(), ts.size_field()),
                (TypeChar::Float, 4 | 8) | (TypeChar::Complex, 8 | 16) | (TypeChar::Int, 8)
            ),
            _ => false,
        };
        let data = if fast {
            // Little-endian numeric members: read the raw bytes at once instead of element-wise
            // deserialisation (an order of magnitude faster on large stacks).
            let DType::Plain(ts) = &dtype else {
                unreachable!("checked above")
            };
            // `member` checked that this product fits in the member's declared size; the
            // declared size only bounds the first allocation, and no more than `needed` is read.
            let count: usize = shape.iter().product();
            let needed = count * ts.size_field() as usize;
            let mut bytes = Vec::with_capacity(needed.min(64 << 20));
            std::io::Read::read_to_end(&mut npy.into_inner().take(needed as u64), &mut bytes)
                .map_err(err)?;
            if bytes.len() < needed {
                return Err(format_error(
                    &path,
                    name,
                    format!(
                        "{} data bytes for shape {shape:?}, {needed} expected",
                        bytes.len()
                    ),
                ));
            }
            bytes.truncate(needed);
            let f4 = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let f8 =
                |b: &[u8]| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            match (ts.type_char(), ts.size_field()) {
                (TypeChar::Float, 4) => ArrayData::F32(bytes.chunks_exact(4).map(f4).collect()),
                (TypeChar::Float, 8) => ArrayData::F64(bytes.chunks_exact(8).map(f8).collect()),
                (TypeChar::Complex, 8) => ArrayData::C64(
                    bytes
                        .chunks_exact(8)
                        .map(|b| Complex32::new(f4(&b[..4]), f4(&b[4..])))
                        .collect(),
                ),
                (TypeChar::Complex, 16) => ArrayData::C128(
                    bytes
                        .chunks_exact(16)
                        .map(|b| Complex64::new(f8(&b[..8]), f8(&b[8..])))
                        .collect(),
                ),
                _ => ArrayData::Int(
                    bytes
                        .chunks_exact(8)
                        .map(|b| {
                            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                        })
                        .collect(),
                ),
            }
        } else {
            match &dtype {
                DType::Plain(ts) => match (ts.type_char(), ts.size_field()) {
                    (TypeChar::Float, 4) => ArrayData::F32(npy.into_vec::<f32>().map_err(err)?),
                    (TypeChar::Float, 8) => ArrayData::F64(npy.into_vec::<f64>().map_err(err)?),
                    (TypeChar::Complex, 8) => {
                        ArrayData::C64(npy.into_vec::<Complex32>().map_err(err)?)
                    }
                    (TypeChar::Complex, 16) => {
                        ArrayData::C128(npy.into_vec::<Complex64>().map_err(err)?)
                    }
                    (TypeChar::Int, 1) => widen(npy.into_vec::<i8>().map_err(err)?),
                    (TypeChar::Int, 2) => widen(npy.into_vec::<i16>().map_err(err)?),
                    (TypeChar::Int, 4) => widen(npy.into_vec::<i32>().map_err(err)?),
                    (TypeChar::Int, 8) => ArrayData::Int(npy.into_vec::<i64>().map_err(err)?),
                    (TypeChar::Uint, 1) => widen(npy.into_vec::<u8>().map_err(err)?),
                    (TypeChar::Uint, 2) => widen(npy.into_vec::<u16>().map_err(err)?),
                    (TypeChar::Uint, 4) => widen(npy.into_vec::<u32>().map_err(err)?),
                    (TypeChar::Uint, 8) => {
                        let raw = npy.into_vec::<u64>().map_err(err)?;
                        let mut out = Vec::with_capacity(raw.len());
                        for v in raw {
                            out.push(i64::try_from(v).map_err(|_| {
                                DataError::invalid(
                                    &path,
                                    name,
                                    Problem::DType,
                                    "integers below 2^63",
                                    format!("uint64 value {v}"),
                                )
                            })?);
                        }
                        ArrayData::Int(out)
                    }
                    (TypeChar::Bool, 1) => ArrayData::Int(
                        npy.into_vec::<bool>()
                            .map_err(err)?
                            .into_iter()
                            .map(i64::from)
                            .collect(),
                    ),
                    _ => ArrayData::Unsupported,
                },
                _ => ArrayData::Unsupported,
            }
        };
        let data = if fortran {
            let ferr = |e: String| format_error(&path, name, e);
            match data {
                ArrayData::F32(v) => ArrayData::F32(fortran_to_c(v, &shape).map_err(ferr)?),
                ArrayData::F64(v) => ArrayData::F64(fortran_to_c(v, &shape).map_err(ferr)?),
                ArrayData::C64(v) => ArrayData::C64(fortran_to_c(v, &shape).map_err(ferr)?),
                ArrayData::C128(v) => ArrayData::C128(fortran_to_c(v, &shape).map_err(ferr)?),
                ArrayData::Int(v) => ArrayData::Int(fortran_to_c(v, &shape).map_err(ferr)?),
                ArrayData::Unsupported => ArrayData::Unsupported,
            }
        } else {
            data
        };
        Ok(Some(NpyArray {
            shape,
            dtype: name_of_dtype,
            data,
        }))
    }
}

impl<R: Read + Seek> NpzReader<R> {
    /// Reads a 0-d (or one-element) string member (`<U` or `|S`, what `np.savez(f, name="text")`
    /// writes); `None` when absent.
    pub fn read_str(&mut self, name: &str) -> Result<Option<String>> {
        let path = self.path.clone();
        let Some(npy) = self.member(name)? else {
            return Ok(None);
        };
        let dtype = npy.dtype();
        let count = npy
            .shape()
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let is_text = matches!(&dtype, DType::Plain(ts)
            if matches!(ts.type_char(), TypeChar::UnicodeStr | TypeChar::ByteStr));
        if !is_text || count != Some(1) {
            return Err(DataError::invalid(
                &path,
                name,
                Problem::DType,
                "a single string (numpy `<U` or `|S`, shape ())",
                format!("{} of shape {:?}", dtype_name(&dtype), npy.shape()),
            ));
        }
        let mut values = npy
            .into_vec::<String>()
            .map_err(|e| format_error(&path, name, e))?;
        Ok(values.pop())
    }
}

impl<R: Read + Seek> NpzReader<R> {
    /// Streams a real numeric member element by element in stored order, as f32, calling
    /// `f(k, value)` for the `k`-th stored element; memory use stays at the zip/npy buffers.
    pub fn stream_f32(
        &mut self,
        name: &str,
        mut f: impl FnMut(usize, f32) -> Result<()>,
    ) -> Result<()> {
        let path = self.path.clone();
        let npy = self.member(name)?.ok_or_else(|| DataError::MissingKey {
            file: path.clone(),
            key: name.to_string(),
            hint: "a numeric array".to_string(),
        })?;
        let dtype = npy.dtype();
        let DType::Plain(ts) = &dtype else {
            return Err(DataError::invalid(
                &path,
                name,
                Problem::DType,
                "a real numeric array",
                dtype_name(&dtype),
            ));
        };
        macro_rules! pump {
            ($t:ty) => {{
                let reader = npy.data::<$t>().map_err(|e| format_error(&path, name, e))?;
                for (k, v) in reader.enumerate() {
                    f(k, v.map_err(|e| format_error(&path, name, e))? as f32)?;
                }
            }};
        }
        match (ts.type_char(), ts.size_field()) {
            (TypeChar::Float, 4) => pump!(f32),
            (TypeChar::Float, 8) => pump!(f64),
            (TypeChar::Int, 1) => pump!(i8),
            (TypeChar::Int, 2) => pump!(i16),
            (TypeChar::Int, 4) => pump!(i32),
            (TypeChar::Int, 8) => pump!(i64),
            (TypeChar::Uint, 1) => pump!(u8),
            (TypeChar::Uint, 2) => pump!(u16),
            (TypeChar::Uint, 4) => pump!(u32),
            (TypeChar::Uint, 8) => pump!(u64),
            _ => {
                return Err(DataError::invalid(
                    &path,
                    name,
                    Problem::DType,
                    "a real numeric array",
                    dtype_name(&dtype),
                ));
            }
        }
        Ok(())
    }
}

impl<R: Read + Seek> NpzReader<R> {
    /// Streams a complex member element by element in stored order, as complex64.
    pub fn stream_c64(
        &mut self,
        name: &str,
        mut f: impl FnMut(usize, Complex32) -> Result<()>,
    ) -> Result<()> {
        let path = self.path.clone();
        let npy = self.member(name)?.ok_or_else(|| DataError::MissingKey {
            file: path.clone(),
            key: name.to_string(),
            hint: "a complex array".to_string(),
        })?;
        let dtype = npy.dtype();
        match &dtype {
            DType::Plain(ts) if ts.type_char() == TypeChar::Complex && ts.size_field() == 8 => {
                let reader = npy
                    .data::<Complex32>()
                    .map_err(|e| format_error(&path, name, e))?;
                for (k, v) in reader.enumerate() {
                    f(k, v.map_err(|e| format_error(&path, name, e))?)?;
                }
            }
            DType::Plain(ts) if ts.type_char() == TypeChar::Complex && ts.size_field() == 16 => {
                let reader = npy
                    .data::<Complex64>()
                    .map_err(|e| format_error(&path, name, e))?;
                for (k, v) in reader.enumerate() {
                    let v = v.map_err(|e| format_error(&path, name, e))?;
                    f(k, Complex32::new(v.re as f32, v.im as f32))?;
                }
            }
            _ => {
                return Err(DataError::invalid(
                    &path,
                    name,
                    Problem::DType,
                    "a complex64 array",
                    dtype_name(&dtype),
                ));
            }
        }
        Ok(())
    }
}

fn widen<T: Into<i64>>(v: Vec<T>) -> ArrayData {
    ArrayData::Int(v.into_iter().map(Into::into).collect())
}
