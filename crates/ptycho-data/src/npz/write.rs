//! Writing `.npz` archives numpy loads: `np.savez`-like (stored) or `np.savez_compressed`-like
//! (deflate), written to a temporary file and renamed into place, with fixed zip timestamps so the
//! same arrays give the same file.

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;
use num_complex::{Complex32, Complex64};
use ptycho_fs::{AtomicFile, AtomicWriteError};

use crate::error::{DataError, Result};

/// How members are stored in a written archive (`np.savez` vs `np.savez_compressed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Uncompressed, like `np.savez`.
    Stored,
    /// Deflate, like `np.savez_compressed`.
    #[default]
    Deflated,
}

/// Element types we write, each with the numpy dtype numpy will see.
pub trait NpzElement: npyz::AutoSerialize + Copy {}
impl NpzElement for f32 {}
impl NpzElement for f64 {}
impl NpzElement for i64 {}
impl NpzElement for i32 {}
impl NpzElement for u32 {}
impl NpzElement for u16 {}
impl NpzElement for u8 {}
impl NpzElement for Complex32 {}
impl NpzElement for Complex64 {}

/// Writes an `.npz` atomically: members go to a temporary file in the target directory (which
/// must exist), which is synced and renamed onto the target by [`NpzWriter::finish`]. Dropping
/// the writer unfinished leaves the target untouched.
pub struct NpzWriter {
    path: PathBuf,
    inner: zip::ZipWriter<AtomicFile>,
    compression: Compression,
}

impl std::fmt::Debug for NpzWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpzWriter")
            .field("path", &self.path)
            .field("compression", &self.compression)
            .finish()
    }
}

impl NpzWriter {
    /// Starts writing `path` (created or replaced on [`NpzWriter::finish`]).
    pub fn create(path: impl AsRef<Path>, compression: Compression) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = AtomicFile::create(&path).map_err(write_error)?;
        Ok(NpzWriter {
            inner: zip::ZipWriter::new(file),
            path,
            compression,
        })
    }

    /// Adds a member `name` with C-order `data` of `shape`.
    pub fn add<T: NpzElement>(&mut self, name: &str, shape: &[usize], data: &[T]) -> Result<()> {
        let expected: usize = shape.iter().product();
        if expected != data.len() {
            return Err(DataError::parameter(
                "npz member data",
                format!("{expected} elements for shape {shape:?} of `{name}`"),
                data.len(),
            ));
        }
        let options = self.options(std::mem::size_of_val(data) as u64);
        let path = self.path.clone();
        let err = |e: std::io::Error| DataError::io(&path, "cannot write", e);
        let shape_u64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        self.inner
            .start_file(format!("{name}.npy"), options)
            .map_err(|e| err(std::io::Error::other(e)))?;
        let mut w = npyz::WriteOptions::<T>::new()
            .default_dtype()
            .shape(&shape_u64)
            .writer(&mut self.inner)
            .begin_nd()
            .map_err(err)?;
        w.extend(data.iter().copied()).map_err(err)?;
        w.finish().map_err(err)
    }

    /// Adds a 0-d unicode string member `name` (numpy dtype `<U{len}`, what `np.savez(f,
    /// name="text")` writes), read back by numpy as `str(npz["name"])`.
    pub fn add_str(&mut self, name: &str, text: &str) -> Result<()> {
        // numpy gives the empty string the dtype `<U1`, never `<U0`.
        let chars = text.chars().count().max(1);
        let type_str: npyz::TypeStr = format!("<U{chars}").parse().map_err(|e| {
            DataError::parameter("npz string member", "a unicode dtype", format!("{e}"))
        })?;
        let options = self.options(4 * chars as u64);
        let path = self.path.clone();
        let err = |e: std::io::Error| DataError::io(&path, "cannot write", e);
        self.inner
            .start_file(format!("{name}.npy"), options)
            .map_err(|e| err(std::io::Error::other(e)))?;
        let mut w = npyz::WriteOptions::<str>::new()
            .dtype(npyz::DType::Plain(type_str))
            .shape(&[])
            .writer(&mut self.inner)
            .begin_nd()
            .map_err(err)?;
        w.push(text).map_err(err)?;
        w.finish().map_err(err)
    }

    /// Zip options of a member of `bytes` data bytes.
    fn options(&self, bytes: u64) -> zip::write::SimpleFileOptions {
        let method = match self.compression {
            Compression::Stored => zip::CompressionMethod::Stored,
            Compression::Deflated => zip::CompressionMethod::Deflated,
        };
        zip::write::SimpleFileOptions::default()
            .compression_method(method)
            // A fixed timestamp makes identical arrays give identical files.
            .last_modified_time(zip::DateTime::default())
            .large_file(bytes >= u64::from(u32::MAX) - 4096)
    }

    /// Finishes the archive, syncs it and renames it onto the target path.
    pub fn finish(self) -> Result<()> {
        let file = self
            .inner
            .finish()
            .map_err(|e| DataError::io(&self.path, "cannot finish", std::io::Error::other(e)))?;
        file.commit().map_err(write_error)
    }
}

/// An atomic write's error as this crate's: the file, then what went wrong.
pub(crate) fn write_error(error: AtomicWriteError) -> DataError {
    DataError::io(&error.path, "cannot write", error.source)
}

/// Gives a finished output the usual permissions (temporary files are created owner-only):
/// `0644` for files, `0755` for directories, on unix.
pub(crate) fn publish_permissions(path: &Path, directory: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if directory { 0o755 } else { 0o644 };
        // Best effort: a filesystem without unix modes keeps its defaults.
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (path, directory);
}
