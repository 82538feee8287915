//! What a person at a terminal and a batch job's log file see while a long command runs.
//!
//! On a terminal: a bar (epoch, step, loss, learning rate, patterns/s, ETA) with one line per
//! finished epoch above it. Anywhere else (a pipe, a file, a batch system): one line per epoch on
//! stderr with the same figures and the validation loss, plus a step line at most every
//! [`QUIET_GAP`] inside long epochs, so a log never stays silent for minutes. `--quiet` silences
//! both. The same modes drive the counters of `infer`, `simulate` and `lines-benchmark`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use ptycho_workflows::lines::human_duration;
use ptycho_workflows::{EpochEnd, ObserverError, RunEnd, RunStart, StepProgress, TrainObserver};

/// Longest a line-mode log waits for a progress line inside a long epoch or stage.
pub const QUIET_GAP: Duration = Duration::from_secs(30);

/// A stage that took longer than this ends with a line in line mode.
const FINAL_LINE_AFTER: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on stderr (a terminal).
    Bar,
    /// Plain lines on stderr (pipes and log files).
    Lines,
    /// Nothing (`--quiet`).
    Quiet,
}

impl ProgressMode {
    /// `--quiet` wins; a config's `enable_progress_bar = false` asks for lines; otherwise a bar
    /// when stderr is a terminal (a bar in a log file is unreadable, so `true` cannot force one).
    pub fn choose(quiet: bool, enable_progress_bar: Option<bool>) -> Self {
        if quiet {
            Self::Quiet
        } else if enable_progress_bar != Some(false) && std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Lines
        }
    }

    fn bar(self, len: u64, template: &str) -> Option<ProgressBar> {
        (self == Self::Bar).then(|| {
            let bar = ProgressBar::new(len);
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        })
    }
}

fn duration(d: Duration) -> String {
    human_duration(d.as_secs_f64())
}

fn eta(eta: Option<Duration>) -> String {
    eta.map(|d| format!("  eta {}", duration(d)))
        .unwrap_or_default()
}

/// The training observer of the CLI.
#[derive(Debug)]
pub struct TrainProgress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl TrainProgress {
    /// Progress in `mode`.
    pub fn new(mode: ProgressMode) -> Self {
        Self {
            mode,
            bar: None,
            last_line: Instant::now(),
        }
    }
}

/// The per-epoch line (also what a piped run prints).
pub fn epoch_line(end: &EpochEnd<'_>) -> String {
    let r = end.record;
    format!(
        "epoch {}/{}  loss {:.6e}{}  lr {:.2e}  {:.1} patterns/s  {:.1}s{}",
        r.epoch + 1,
        end.epochs,
        r.loss,
        r.val_loss
            .map(|v| format!("  val_loss {v:.6e}"))
            .unwrap_or_default(),
        r.learning_rate,
        r.patterns_per_second,
        r.seconds,
        if end.last {
            String::new()
        } else {
            eta(end.eta)
        }
    )
}

impl TrainObserver for TrainProgress {
    fn on_start(&mut self, run: &RunStart) {
        if self.mode == ProgressMode::Quiet {
            return;
        }
        let resumed = if run.first_epoch > 0 {
            format!(", resuming after epoch {}", run.first_epoch)
        } else {
            String::new()
        };
        eprintln!(
            "training {} epochs of {} steps on {} groups ({} held out for validation){resumed}",
            run.epochs, run.steps_per_epoch, run.train_groups, run.val_groups
        );
        self.bar = self.mode.bar(
            run.steps_per_epoch as u64,
            "{prefix} [{bar:30}] {pos}/{len} {msg}",
        );
        self.last_line = Instant::now();
    }

    fn on_step(&mut self, step: &StepProgress) {
        let figures = format!(
            "loss {:.4e}  lr {:.2e}  {:.1} patterns/s{}",
            step.loss,
            step.learning_rate,
            step.patterns_per_second,
            eta(step.eta)
        );
        match (&self.bar, self.mode) {
            (Some(bar), _) => {
                bar.set_prefix(format!("epoch {}/{}", step.epoch + 1, step.epochs));
                bar.set_position(step.step as u64);
                bar.set_message(figures);
            }
            (None, ProgressMode::Lines)
                if step.step < step.steps && self.last_line.elapsed() >= QUIET_GAP =>
            {
                eprintln!(
                    "epoch {}/{} step {}/{}  {figures}",
                    step.epoch + 1,
                    step.epochs,
                    step.step,
                    step.steps
                );
                self.last_line = Instant::now();
            }
            _ => {}
        }
    }

    fn on_epoch(&mut self, end: &EpochEnd<'_>) -> Result<(), ObserverError> {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.println(epoch_line(end)),
            (None, ProgressMode::Lines) => eprintln!("{}", epoch_line(end)),
            _ => {}
        }
        self.last_line = Instant::now();
        Ok(())
    }

    fn on_finish(&mut self, outcome: &RunEnd) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if *outcome == RunEnd::Cancelled && self.mode != ProgressMode::Quiet {
            eprintln!("training cancelled");
        }
    }
}

/// A counter for a long stage that is not training (inference batches, simulated patterns).
#[derive(Debug)]
pub struct StageProgress {
    mode: ProgressMode,
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl StageProgress {
    /// A counter for `label` (e.g. "reconstructing groups").
    pub fn new(mode: ProgressMode, label: &str) -> Self {
        Self {
            mode,
            label: label.to_owned(),
            bar: None,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    /// `done` of `total` items are finished.
    pub fn update(&mut self, done: usize, total: usize) {
        if self.mode == ProgressMode::Quiet {
            return;
        }
        if self.bar.is_none() {
            self.bar = self.mode.bar(
                total as u64,
                "{prefix} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})",
            );
            if let Some(bar) = &self.bar {
                bar.set_prefix(self.label.clone());
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            if done >= total {
                bar.finish_and_clear();
            }
            return;
        }
        // A short stage needs no line; a long one gets one at least every QUIET_GAP and a last
        // one when it ends.
        let ended_late = done >= total && self.started.elapsed() >= FINAL_LINE_AFTER;
        if ended_late || self.last_line.elapsed() >= QUIET_GAP {
            let elapsed = self.started.elapsed();
            let left = (done > 0 && done < total)
                .then(|| elapsed.mul_f64((total - done) as f64 / done as f64));
            eprintln!(
                "{} {done}/{total}  {}{}",
                self.label,
                duration(elapsed),
                eta(left)
            );
            self.last_line = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_wins_and_a_disabled_bar_gives_lines() {
        assert_eq!(ProgressMode::choose(true, Some(true)), ProgressMode::Quiet);
        assert_eq!(ProgressMode::choose(true, None), ProgressMode::Quiet);
        assert_eq!(
            ProgressMode::choose(false, Some(false)),
            ProgressMode::Lines
        );
    }
}
