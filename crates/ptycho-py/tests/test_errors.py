"""Bad input raises ValueError with the library's message naming the argument, what was
expected and what was found; Ctrl-C and a failing progress callback stop training cleanly."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ptychopinn as pp
from conftest import GROUPS, N, small_config


def test_wrong_diffraction_dtype(scan: pp.Scan) -> None:
    bad = scan.as_dict() | {"diffraction": scan.diffraction.astype(np.float64)}
    with pytest.raises(ValueError) as err:
        pp.train(bad, small_config())
    assert str(err.value) == (
        "train_data['diffraction']: expected float32 amplitudes of shape (n, N, N), "
        f"found float64 of shape ({GROUPS}, {N}, {N})"
    )


def test_wrong_probe_shape(scan: pp.Scan) -> None:
    bad = scan.as_dict() | {"probe": scan.probe[:16, :16].copy()}
    with pytest.raises(ValueError) as err:
        pp.train(bad, small_config())
    assert str(err.value) == (
        f"train_data['probe']: expected complex64 of shape ({N}, {N}) (the pattern size), "
        "found shape (16, 16)"
    )


def test_positions_of_another_length(scan: pp.Scan) -> None:
    bad = scan.as_dict() | {"xcoords": scan.xcoords[:10].copy()}
    with pytest.raises(ValueError) as err:
        pp.train(bad, small_config())
    assert str(err.value) == (
        f"train_data['xcoords']: expected float64 of shape ({GROUPS},) (one per pattern), "
        "found shape (10,)"
    )


def test_missing_key_and_wrong_type(scan: pp.Scan, trained: tuple[pp.Model, Any]) -> None:
    model, _ = trained
    partial = {k: v for k, v in scan.as_dict().items() if k != "probe"}
    with pytest.raises(ValueError) as err:
        model.reconstruct(partial)
    assert str(err.value) == (
        "data: expected a mapping with diffraction, xcoords, ycoords, probe (object optional), "
        "found no `probe`"
    )
    with pytest.raises(ValueError) as err:
        model.reconstruct(42)  # type: ignore[arg-type]
    assert str(err.value) == (
        "data: expected a path or a mapping with diffraction, xcoords, ycoords, probe "
        "(object optional), found int"
    )
    with pytest.raises(ValueError) as err:
        model.reconstruct(scan, stitch_weighting="median")
    assert str(err.value) == 'stitch_weighting: expected "uniform" or "probe", found "median"'


def test_pattern_size_other_than_the_models(trained: tuple[pp.Model, Any]) -> None:
    model, _ = trained
    other = pp.simulate(n=128, object_size=160, n_images=4, grid_step=8.0)
    with pytest.raises(ValueError) as err:
        model.reconstruct(other)
    assert str(err.value).startswith("diffraction pattern size: expected 64x64 as the model was trained")
    assert str(err.value).endswith("found 128x128")


def test_unknown_config_key_names_the_nearest() -> None:
    with pytest.raises(ValueError) as err:
        pp.TrainingConfig(nepoch=3)
    assert "nepoch" in str(err.value) and "did you mean `nepochs`?" in str(err.value)
    with pytest.raises(ValueError) as err:
        pp.ModelConfig(grid_size=2)
    assert "did you mean `gridsize`?" in str(err.value)


def test_bad_config_value() -> None:
    with pytest.raises(ValueError) as err:
        pp.ExecutionConfig(devices=2)
    assert str(err.value).startswith("config: ")
    assert "devices" in str(err.value)


def test_config_objects_mirror_the_canonical_fields() -> None:
    config = pp.TrainingConfig(model={"N": 128, "gridsize": 2}, nepochs=3)
    assert config.nepochs == 3 and config.model.N == 128 and config.model.gridsize == 2
    assert config.to_dict() == {"model": {"N": 128, "gridsize": 2}, "nepochs": 3}
    default = pp.TrainingConfig()
    assert config.batch_size == default.batch_size
    with pytest.raises(AttributeError, match="TrainingConfig has no field `nepoch`"):
        _ = config.nepoch


def test_missing_file() -> None:
    with pytest.raises(ValueError) as err:
        pp.load_bundle("/nonexistent/wts.h5.zip")
    assert "/nonexistent/wts.h5.zip" in str(err.value)


def test_failing_progress_callback_stops_training(scan: pp.Scan) -> None:
    steps: list[int] = []

    def progress(event: dict[str, Any]) -> None:
        if event["event"] == "step":
            steps.append(event["step"])
            raise RuntimeError("stop at the first step")

    with pytest.raises(RuntimeError, match="^stop at the first step$"):
        pp.train(scan, small_config(epochs=50), progress=progress)
    assert steps == [1]  # steps count from 1


def test_ctrl_c_cancels_training_cleanly(scan: pp.Scan, tmp_path: Path) -> None:
    steps: list[int] = []

    def progress(event: dict[str, Any]) -> None:
        if event["event"] == "step":
            steps.append(event["step"])
            if len(steps) == 1:
                # SIGINT arrives while training runs without the GIL, as from a terminal.
                threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        pp.train(scan, small_config(epochs=200), progress=progress)
    assert time.monotonic() - started < 60
    assert 1 <= len(steps) < 200 * 4
    # The interpreter is usable afterwards, and so is the library.
    model = pp.train(scan, small_config(epochs=1), seed=1)
    assert model.history is not None and len(model.history) == 1
