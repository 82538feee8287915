//! Crash-safe writing of output files, one helper for the whole workspace.
//!
//! A run that is killed, loses power, fills the disk or fails half-way must never leave a
//! half-written output (a truncated checkpoint, model bundle, NPZ, image or JSON) where a later
//! run or a user would take it for a complete one. So no file is written in place: the bytes go
//! to a temporary file in the target's own directory (the rename below must stay on one
//! filesystem), which is flushed and `fsync`ed and only then renamed onto the target. The rename
//! replaces any previous version atomically, so a reader sees either the old file or the whole
//! new one. On any failure, and when a writer is dropped without being committed, the temporary
//! file is removed and the old file is left untouched. After the rename the directory is synced
//! too (best effort), so that the new name itself survives a crash.
//!
//! The temporary file is named `.<name>.<random>.partial` next to the target, so that one left
//! behind by a crash that gave no chance to clean up (power loss, `SIGKILL`) is hidden and says
//! what it was. The finished file gets the permissions `std::fs::File::create` would give it
//! (`0o666` less the umask on unix), not a temporary file's owner-only mode.
//!
//! Missing parent directories are not created: the error says that the directory does not
//! exist, and a caller that means to create it does so explicitly.
//!
//! Three ways in: [`write_atomically`] for bytes at hand, [`write_atomically_with`] for a
//! serialiser that writes into a buffered writer, and [`AtomicFile`] for writers that also need
//! to seek, such as a zip archive.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

/// Buffer size of an [`AtomicFile`].
const BUFFER_BYTES: usize = 64 * 1024;

/// Why a file could not be written; the target file is unchanged.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct AtomicWriteError {
    /// The file that was to be written.
    pub path: PathBuf,
    /// What went wrong: creating the temporary file (a missing directory is reported as
    /// `directory … does not exist`), writing, syncing or renaming it.
    pub source: io::Error,
}

impl AtomicWriteError {
    fn new(path: &Path, source: io::Error) -> Self {
        AtomicWriteError {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<AtomicWriteError> for io::Error {
    /// An `io::Error` of the same kind whose message names the file.
    fn from(error: AtomicWriteError) -> Self {
        io::Error::new(error.source.kind(), error)
    }
}

/// Writes `bytes` to `path` atomically (see the [crate] documentation): `path` is either left
/// as it was or replaced by a file holding exactly `bytes`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .map_err(|e| AtomicWriteError::new(path, e))?;
    file.commit()
}

/// Writes `path` atomically with `write`, which gets a buffered writer into the temporary file.
/// When `write` returns an error, `path` is left as it was and that error is returned.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), AtomicWriteError> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file).map_err(|e| AtomicWriteError::new(path, e))?;
    file.commit()
}

/// A buffered file that becomes `path` only when [`AtomicFile::commit`] succeeds; for writers
/// that need `Write + Seek` (a zip archive, say). Dropping it without committing removes the
/// temporary file and leaves `path` untouched.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    // Declared before `temp`, so that the file is closed before its name is removed on drop.
    file: BufWriter<File>,
    temp: TempPath,
}

impl AtomicFile {
    /// Starts writing `path` (created or replaced on [`AtomicFile::commit`]) through a temporary
    /// file in the same directory, which must exist.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, AtomicWriteError> {
        let path = path.as_ref().to_path_buf();
        let dir = parent_dir(&path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(100).collect::<String>())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // What `File::create` asks for; the umask applies as usual.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder
            .tempfile_in(dir)
            .map_err(|e| AtomicWriteError::new(&path, creation_error(dir, e)))?;
        let (file, temp) = temp.into_parts();
        Ok(AtomicFile {
            path,
            file: BufWriter::with_capacity(BUFFER_BYTES, file),
            temp,
        })
    }

    /// The file this will become.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the buffer, syncs the temporary file to disk and renames it onto the target.
    pub fn commit(self) -> Result<(), AtomicWriteError> {
        let AtomicFile { path, file, temp } = self;
        let fail = |e: io::Error| AtomicWriteError::new(&path, e);
        let file = file.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        drop(file);
        temp.persist(&path).map_err(|e| fail(e.error))?;
        sync_directory(parent_dir(&path));
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.file.write_vectored(bufs)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    /// Empties the buffer into the temporary file (no sync; [`AtomicFile::commit`] syncs).
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Says why no temporary file could be created in `dir`, without the temporary file's name
/// that tempfile's message carries.
fn creation_error(dir: &Path, error: io::Error) -> io::Error {
    let kind = error.kind();
    if let Ok(false) = dir.try_exists() {
        return io::Error::new(
            io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        );
    }
    let reason = match kind {
        io::ErrorKind::Other => error.to_string(),
        _ => kind.to_string(),
    };
    io::Error::new(
        kind,
        format!(
            "cannot create a file in directory {}: {reason}",
            dir.display()
        ),
    )
}

/// Makes a rename in `dir` durable; best effort, as not every filesystem can sync a directory.
fn sync_directory(dir: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_atomically(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        write_atomically_with(&path, |w| w.write_all(b"second, longer")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        write_atomically(&path, b"").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, b"old").unwrap();
        let error = write_atomically_with(&path, |w| {
            // more than the buffer holds, so part of it reaches the temporary file
            w.write_all(&vec![7u8; 3 * BUFFER_BYTES])?;
            Err(io::Error::other("serialiser gave up"))
        })
        .unwrap_err();
        assert_eq!(error.path, path);
        assert_eq!(
            error.to_string(),
            format!("cannot write {}: serialiser gave up", path.display())
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.json"]);
    }

    #[test]
    fn an_atomic_file_dropped_without_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.npz");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(&vec![1u8; 2 * BUFFER_BYTES]).unwrap();
        assert_eq!(
            names(dir.path()).len(),
            1,
            "the temporary file exists meanwhile"
        );
        assert!(names(dir.path())[0].starts_with(".archive.npz."));
        assert!(names(dir.path())[0].ends_with(".partial"));
        drop(file);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn an_atomic_file_seeks_and_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.zip");
        let mut file = AtomicFile::create(&path).unwrap();
        assert_eq!(file.path(), path);
        file.write_all(b"xxxx body").unwrap();
        assert_eq!(file.stream_position().unwrap(), 9);
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(b"head").unwrap();
        file.seek(SeekFrom::End(0)).unwrap();
        file.write_all(b"!").unwrap();
        assert!(!path.exists(), "nothing at the target before commit");
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"head body!");
        assert_eq!(names(dir.path()), ["archive.zip"]);
    }

    #[test]
    fn a_missing_directory_is_named_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let path = missing.join("out.json");
        for error in [
            write_atomically(&path, b"x").unwrap_err(),
            AtomicFile::create(&path).unwrap_err(),
        ] {
            assert_eq!(error.source.kind(), io::ErrorKind::NotFound);
            assert_eq!(
                error.to_string(),
                format!(
                    "cannot write {}: directory {} does not exist",
                    path.display(),
                    missing.display()
                )
            );
        }
        assert!(!missing.exists());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_gets_the_permissions_file_create_gives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let atomic = dir.path().join("atomic");
        write_atomically(&atomic, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&atomic), mode(&plain));
    }

    #[test]
    fn the_error_converts_to_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x");
        let error: io::Error = write_atomically(&path, b"x").unwrap_err().into();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains(&path.display().to_string()));
    }
}
