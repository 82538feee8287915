//! Training progress to Python: a [`TrainObserver`] that, while the GIL is released for
//! training, takes it back at every step and every epoch's end to call the caller's callback with
//! a dict, and to run Python's signal handlers so that Ctrl-C is seen. A `KeyboardInterrupt`
//! from the handlers, or any exception the callback raises, is kept and the run is cancelled
//! through its [`CancelToken`] before the next step; the caller raises the kept exception once
//! training has returned.

use ptycho_workflows::TrainObserver;
use ptycho_workflows::{CancelToken, EpochEnd, ObserverError, RunEnd, RunStart, StepProgress};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Sends progress events to an optional Python callable and watches for Ctrl-C.
#[derive(Debug)]
pub struct PyProgress {
    callback: Option<Py<PyAny>>,
    cancel: CancelToken,
    error: Option<PyErr>,
}

impl PyProgress {
    /// Events go to `callback`; an interrupt or a failing callback cancels `cancel`.
    pub fn new(callback: Option<Py<PyAny>>, cancel: CancelToken) -> Self {
        PyProgress {
            callback,
            cancel,
            error: None,
        }
    }

    /// The exception that stopped the run, if one did.
    pub fn take_error(&mut self) -> Option<PyErr> {
        self.error.take()
    }

    /// Runs the signal handlers, then the callback with the event `fill` builds, with the GIL.
    fn send(&mut self, fill: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>) {
        if self.error.is_some() {
            return;
        }
        let result = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(callback) = &self.callback {
                let event = PyDict::new(py);
                fill(&event)?;
                callback.call1(py, (event,))?;
            }
            Ok(())
        });
        if let Err(err) = result {
            self.error = Some(err);
            self.cancel.cancel();
        }
    }
}

impl TrainObserver for PyProgress {
    fn on_start(&mut self, run: &RunStart) {
        self.send(|e| {
            e.set_item("event", "start")?;
            e.set_item("first_epoch", run.first_epoch)?;
            e.set_item("epochs", run.epochs)?;
            e.set_item("steps_per_epoch", run.steps_per_epoch)?;
            e.set_item("train_groups", run.train_groups)?;
            e.set_item("val_groups", run.val_groups)
        });
    }

    fn on_step(&mut self, step: &StepProgress) {
        self.send(|e| {
            e.set_item("event", "step")?;
            e.set_item("epoch", step.epoch)?;
            e.set_item("epochs", step.epochs)?;
            e.set_item("step", step.step)?;
            e.set_item("steps", step.steps)?;
            e.set_item("loss", step.loss)?;
            e.set_item("learning_rate", step.learning_rate)?;
            e.set_item("patterns_per_second", step.patterns_per_second)?;
            e.set_item("eta_seconds", step.eta.map(|d| d.as_secs_f64()))
        });
    }

    fn on_epoch(&mut self, epoch: &EpochEnd<'_>) -> Result<(), ObserverError> {
        let record = epoch.record;
        self.send(|e| {
            e.set_item("event", "epoch")?;
            e.set_item("epoch", record.epoch)?;
            e.set_item("epochs", epoch.epochs)?;
            e.set_item("loss", record.loss)?;
            e.set_item("val_loss", record.val_loss)?;
            e.set_item("learning_rate", record.learning_rate)?;
            e.set_item("seconds", record.seconds)?;
            e.set_item("eta_seconds", epoch.eta.map(|d| d.as_secs_f64()))
        });
        Ok(())
    }

    fn on_finish(&mut self, outcome: &RunEnd) {
        let outcome = match outcome {
            RunEnd::Completed => "completed",
            RunEnd::Cancelled => "cancelled",
            RunEnd::Failed => "failed",
        };
        // The end is reported even after an interrupt, but never runs the handlers again.
        if let Some(callback) = &self.callback
            && self.error.is_none()
        {
            let result = Python::attach(|py| -> PyResult<()> {
                let event = PyDict::new(py);
                event.set_item("event", "finish")?;
                event.set_item("outcome", outcome)?;
                callback.call1(py, (event,))?;
                Ok(())
            });
            if let Err(err) = result {
                self.error = Some(err);
            }
        }
    }
}
