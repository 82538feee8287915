//! `cargo xtask archive tree <bundle.zip> [--json]`: a deterministic listing of a zip archive,
//! such as a `wts.h5.zip` model bundle.
//!
//! Entries are sorted by path whatever order the archive stores them in, each with its size,
//! compressed size, method, CRC-32 and the SHA-256 of its content; the archive's own SHA-256
//! comes first. Reading every entry to its end also verifies its CRC, so a corrupt member is
//! reported rather than listed.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// List every entry sorted by path with sizes, method, crc32 and sha256
    Tree {
        /// The zip archive (e.g. out/wts.h5.zip)
        archive: PathBuf,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: Args) -> Result<()> {
    let Action::Tree { archive, json } = args.action;
    let listing = Listing::read(&archive)?;
    print!(
        "{}",
        if json {
            listing.to_json()
        } else {
            listing.to_text()
        }
    );
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct Listing {
    pub archive: String,
    pub sha256: String,
    pub size: u64,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    pub compressed_size: u64,
    pub method: String,
    pub crc32: String,
    pub sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Listing {
    pub fn read(path: &Path) -> Result<Listing> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).map_err(|e| {
            anyhow::format_err!(
                "{} is not a readable zip archive ({e}); expected a zip such as wts.h5.zip, found {} bytes{}",
                path.display(),
                bytes.len(),
                if bytes.starts_with(b"PK") { " that start like a zip: truncated or corrupt" } else { "" }
            )
        })?;
        let mut entries = Vec::with_capacity(zip.len());
        for index in 0..zip.len() {
            let mut file = zip.by_index(index).with_context(|| {
                format!(
                    "{}: entry {index} is unreadable (truncated or corrupt)",
                    path.display()
                )
            })?;
            if file.is_dir() {
                continue;
            }
            let name = file
                .name()
                .with_context(|| {
                    format!("{}: entry {index} has an unreadable name", path.display())
                })?
                .into_owned();
            let mut content =
                Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0).min(1 << 26));
            file.read_to_end(&mut content).with_context(|| {
                format!("{}: entry `{name}` does not decompress or fails its crc32 check (corrupt archive)", path.display())
            })?;
            entries.push(Entry {
                size: file.size(),
                compressed_size: file.compressed_size(),
                method: file.compression().to_string().to_lowercase(),
                crc32: format!("{:08x}", file.crc32()),
                sha256: sha256_hex(&content),
                path: name,
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(pair) = entries.windows(2).find(|w| w[0].path == w[1].path) {
            bail!("{}: entry `{}` appears twice", path.display(), pair[0].path);
        }
        let archive = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Listing {
            archive,
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            entries,
        })
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a listing always serialises");
        text.push('\n');
        text
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}  {} bytes  sha256 {}\n{} entries\n",
            self.archive,
            self.size,
            self.sha256,
            self.entries.len()
        );
        let width = self
            .entries
            .iter()
            .map(|e| e.path.len())
            .max()
            .unwrap_or(4)
            .max(4);
        out += &format!(
            "{:<width$}  {:>10}  {:>10}  {:<8}  {:<8}  sha256\n",
            "path", "size", "compressed", "method", "crc32"
        );
        for e in &self.entries {
            out += &format!(
                "{:<width$}  {:>10}  {:>10}  {:<8}  {:<8}  {}\n",
                e.path, e.size, e.compressed_size, e.method, e.crc32, e.sha256
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    fn write_zip(path: &Path, members: &[(&str, &[u8], zip::CompressionMethod)]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, content, method) in members {
            zip.start_file(
                *name,
                SimpleFileOptions::default().compression_method(*method),
            )
            .unwrap();
            zip.write_all(content).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn lists_sorted_with_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wts.h5.zip");
        write_zip(
            &path,
            &[
                (
                    "diffraction_to_obj/params.json",
                    b"{}",
                    zip::CompressionMethod::Deflated,
                ),
                (
                    "manifest.json",
                    b"{\"version\":\"1\"}",
                    zip::CompressionMethod::Stored,
                ),
                (
                    "autoencoder/params.json",
                    b"{}",
                    zip::CompressionMethod::Deflated,
                ),
            ],
        );
        let listing = Listing::read(&path).unwrap();
        let paths: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "autoencoder/params.json",
                "diffraction_to_obj/params.json",
                "manifest.json"
            ]
        );
        let manifest = &listing.entries[2];
        assert_eq!(manifest.method, "stored");
        assert_eq!(manifest.size, 15);
        assert_eq!(manifest.sha256, sha256_hex(b"{\"version\":\"1\"}"));
        assert_eq!(manifest.crc32.len(), 8);
        assert_eq!(listing.entries[0].method, "deflated");
        assert_eq!(listing.sha256, sha256_hex(&std::fs::read(&path).unwrap()));
        let text = listing.to_text();
        assert!(text.starts_with("wts.h5.zip  "), "{text}");
        assert!(text.contains("3 entries"));
        let json: serde_json::Value = serde_json::from_str(&listing.to_json()).unwrap();
        assert_eq!(json["entries"][2]["path"], "manifest.json");
    }

    #[test]
    fn non_zip_and_truncated_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a zip").unwrap();
        let err = format!("{:#}", Listing::read(&text).unwrap_err());
        assert!(
            err.contains("notes.txt is not a readable zip archive"),
            "{err}"
        );

        let good = dir.path().join("good.zip");
        write_zip(
            &good,
            &[("a.bin", &[7u8; 4096], zip::CompressionMethod::Deflated)],
        );
        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.zip");
        std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
        let err = format!("{:#}", Listing::read(&cut).unwrap_err());
        assert!(err.contains("cut.zip"), "{err}");
        assert!(err.contains("truncated or corrupt"), "{err}");
    }

    #[test]
    fn corrupt_member_fails_its_crc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.zip");
        write_zip(
            &path,
            &[(
                "data.bin",
                b"hello hello hello",
                zip::CompressionMethod::Stored,
            )],
        );
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
        bytes[at] = b'j';
        std::fs::write(&path, &bytes).unwrap();
        let err = format!("{:#}", Listing::read(&path).unwrap_err());
        assert!(err.contains("entry `data.bin`"), "{err}");
    }
}
