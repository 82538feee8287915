//! `cargo xtask realdata [--epochs 1,4] [--refine-epochs N] [-- TRAIN_FLAGS...]`: the real-data
//! check anyone can run. It builds `ptycho`, trains on a measured scan
//! (`../shared/realdata/cnm_truepos.npz` by default) once per epoch budget with the program's
//! defaults, reconstructs the whole scan (the network's stitched object, then the whole-field
//! refinement `ptycho infer` runs by default), scores both against the iterative reference with
//! `ptycho score` (registration, scale and ramp removal of `compare_to_reference.py`) and
//! prints one table: training time, inference time, FRC band means, NRMSE. The other
//! reference reconstruction in the folder (pty-chi with the recorded positions) is scored the
//! same way for scale.
//!
//! It trains for minutes, so it is not part of CI's run; the report goes to
//! `target/reports/realdata-<UTC timestamp>/` (`realdata.md`, `realdata.json` and every run's
//! outputs).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use xshell::cmd;

use crate::project::Project;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measured scan (canonical NPZ); default ../shared/realdata/cnm_truepos.npz
    #[arg(long)]
    data: Option<PathBuf>,
    /// Iterative reference reconstruction of the same scan; default the data's
    /// `<stem>_reference_recon.npz` beside it
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Network training budgets in epochs, one run each
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 4])]
    epochs: Vec<usize>,
    /// Refinement epochs for `ptycho infer` (default: its own default)
    #[arg(long)]
    refine_epochs: Option<usize>,
    /// Extra flags for `ptycho train`, after `--` (e.g. `-- --gridsize 2`)
    #[arg(last = true)]
    train_flags: Vec<String>,
}

/// One row of the table.
#[derive(Debug, Serialize)]
struct Row {
    run: String,
    train_seconds: Option<f64>,
    reconstruct_seconds: Option<f64>,
    frc_low: f64,
    frc_mid: f64,
    nrmse: f64,
    frc_cutoff: f64,
}

pub fn run(project: &Project, args: Args) -> Result<()> {
    let data = match &args.data {
        Some(d) => d.clone(),
        None => project.path("../shared/realdata/cnm_truepos.npz"),
    };
    let reference = match &args.reference {
        Some(r) => r.clone(),
        None => sibling_reference(&data)?,
    };
    for (what, path) in [("--data", &data), ("--reference", &reference)] {
        if !path.is_file() {
            bail!(
                "{what}: expected a file, found nothing at {}",
                path.display()
            );
        }
    }
    if args.epochs.is_empty() || args.epochs.contains(&0) {
        bail!(
            "--epochs: expected positive epoch budgets, found {:?}",
            args.epochs
        );
    }
    let cargo = &project.cargo;
    cmd!(project.sh, "{cargo} build -p ptycho-cli --bin ptycho")
        .run()
        .context("building ptycho")?;
    let ptycho = project.metadata()?.target_directory.join("debug/ptycho");
    let out = crate::report::fresh_dir(project, "realdata-", OffsetDateTime::now_utc())?;
    let runner = Runner {
        project,
        ptycho: &ptycho,
        data: &data,
        reference: &reference,
        out: &out,
    };
    let mut rows = Vec::new();
    for &epochs in &args.epochs {
        rows.extend(runner.budget(epochs, &args)?);
    }
    for other in other_references(&reference)? {
        let score = runner.score(&other, &out.join("score-other-reference.json"))?;
        rows.push(row(
            format!("iterative: {}", file_name(&other)),
            None,
            None,
            &score,
        ));
    }
    let md = markdown(&data, &reference, &rows);
    std::fs::write(out.join("realdata.md"), &md)?;
    std::fs::write(
        out.join("realdata.json"),
        serde_json::to_string_pretty(&rows)? + "\n",
    )?;
    print!("\n{md}");
    println!("report: {}", out.display());
    Ok(())
}

struct Runner<'a> {
    project: &'a Project,
    ptycho: &'a Path,
    data: &'a Path,
    reference: &'a Path,
    out: &'a Path,
}

impl Runner<'_> {
    /// Trains for `epochs`, reconstructs, scores the network's and the refined object.
    fn budget(&self, epochs: usize, args: &Args) -> Result<Vec<Row>> {
        let (sh, ptycho, data) = (&self.project.sh, self.ptycho, self.data);
        let train_dir = self.out.join(format!("train-{epochs}"));
        let infer_dir = self.out.join(format!("infer-{epochs}"));
        let epochs_s = epochs.to_string();
        let flags = &args.train_flags;
        let started = Instant::now();
        cmd!(
            sh,
            "{ptycho} train --train-data-file {data} --output-dir {train_dir} --max-epochs {epochs_s} --quiet {flags...}"
        )
        .run()
        .with_context(|| format!("training for {epochs} epoch(s)"))?;
        let train_seconds = started.elapsed().as_secs_f64();
        let refine: Vec<String> = args
            .refine_epochs
            .map(|e| vec!["--refine-epochs".to_owned(), e.to_string()])
            .unwrap_or_default();
        let started = Instant::now();
        cmd!(
            sh,
            "{ptycho} infer --model-path {train_dir} --test-data-file {data} --output-dir {infer_dir} --stitch-weighting probe {refine...}"
        )
        .run()
        .with_context(|| format!("reconstructing with the {epochs}-epoch model"))?;
        let infer_seconds = started.elapsed().as_secs_f64();
        let refine_seconds = refinement_seconds(&infer_dir)?;
        let network = self.score(
            &infer_dir.join("reconstruction.npz"),
            &infer_dir.join("score.json"),
        )?;
        let mut rows = vec![row(
            format!("network, {epochs} epoch(s)"),
            Some(train_seconds),
            refine_seconds
                .map(|r| infer_seconds - r)
                .or(Some(infer_seconds)),
            &network,
        )];
        if refine_seconds.is_some() {
            let refined_dir = infer_dir.join("refined");
            let refined = self.score(
                &refined_dir.join("reconstruction.npz"),
                &refined_dir.join("score.json"),
            )?;
            rows.push(row(
                format!("network, {epochs} epoch(s), then refinement"),
                Some(train_seconds),
                Some(infer_seconds),
                &refined,
            ));
        }
        Ok(rows)
    }

    /// `ptycho score --json` of `candidate`, read back.
    fn score(&self, candidate: &Path, json: &Path) -> Result<Value> {
        let (sh, ptycho, reference) = (&self.project.sh, self.ptycho, self.reference);
        cmd!(
            sh,
            "{ptycho} score --reference {reference} {candidate} --json {json}"
        )
        .run()
        .with_context(|| format!("scoring {}", candidate.display()))?;
        let text =
            std::fs::read_to_string(json).with_context(|| format!("reading {}", json.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()))
    }
}

fn row(run: String, train: Option<f64>, reconstruct: Option<f64>, score: &Value) -> Row {
    let number = |key: &str| score.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN);
    Row {
        run,
        train_seconds: train,
        reconstruct_seconds: reconstruct,
        frc_low: number("frc_low"),
        frc_mid: number("frc_mid"),
        nrmse: number("nrmse"),
        frc_cutoff: number("frc_cutoff"),
    }
}

/// `refined/refinement.json`'s `seconds`, when the reconstruction was refined.
fn refinement_seconds(infer_dir: &Path) -> Result<Option<f64>> {
    let path = infer_dir.join("refined/refinement.json");
    if !path.is_file() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("parsing {}", path.display()))?;
    Ok(value.get("seconds").and_then(Value::as_f64))
}

/// `<dir>/<stem>_reference_recon.npz` for data `<dir>/<stem>.npz`.
fn sibling_reference(data: &Path) -> Result<PathBuf> {
    let stem = data
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("--data {}: expected a file name", data.display()))?;
    Ok(data.with_file_name(format!("{stem}_reference_recon.npz")))
}

/// The other `*_reference_recon.npz` files beside the reference (other iterative runs).
fn other_references(reference: &Path) -> Result<Vec<PathBuf>> {
    let dir = reference.parent().unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p != reference && file_name(p).ends_with("_reference_recon.npz"))
        .collect();
    found.sort();
    Ok(found)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn markdown(data: &Path, reference: &Path, rows: &[Row]) -> String {
    let seconds = |s: Option<f64>| s.map_or("–".to_owned(), |s| format!("{s:.0}"));
    let mut md = format!(
        "Real data: `{}` scored against `{}` (FRC band means in cycles/px, NRMSE after registration, scale and ramp removal)\n\n",
        file_name(data),
        file_name(reference)
    );
    md.push_str("| run | training s | reconstruction s | FRC 0–0.1 | FRC 0.1–0.25 | NRMSE | half-bit cut-off |\n");
    md.push_str("|---|---|---|---|---|---|---|\n");
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            r.run,
            seconds(r.train_seconds),
            seconds(r.reconstruct_seconds),
            r.frc_low,
            r.frc_mid,
            r.nrmse,
            r.frc_cutoff
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_found_beside_the_data() {
        let r = sibling_reference(Path::new("/x/cnm_truepos.npz")).unwrap();
        assert_eq!(r, PathBuf::from("/x/cnm_truepos_reference_recon.npz"));
    }

    #[test]
    fn the_table_shows_missing_times_as_dashes() {
        let score: Value =
            serde_json::json!({"frc_low": 0.91, "frc_mid": 0.62, "nrmse": 0.2, "frc_cutoff": 0.5});
        let md = markdown(
            Path::new("d.npz"),
            Path::new("r.npz"),
            &[row("x".into(), Some(12.4), None, &score)],
        );
        assert!(
            md.contains("| x | 12 | – | 0.910 | 0.620 | 0.200 | 0.500 |"),
            "{md}"
        );
    }
}
