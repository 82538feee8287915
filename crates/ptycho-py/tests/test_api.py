"""train → save → load → reconstruct on a small simulated scan, on arrays and on files; the
numpy dtypes and shapes that come back; progress events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import ptychopinn as pp
from conftest import BATCH, EPOCHS, GROUPS, N, OBJECT, small_config


def test_simulate_returns_canonical_dtypes_and_shapes(scan: pp.Scan) -> None:
    assert scan.diffraction.dtype == np.float32
    assert scan.diffraction.shape == (GROUPS, N, N)
    assert scan.xcoords.dtype == np.float64 and scan.xcoords.shape == (GROUPS,)
    assert scan.ycoords.dtype == np.float64 and scan.ycoords.shape == (GROUPS,)
    assert scan.probe.dtype == np.complex64 and scan.probe.shape == (N, N)
    assert scan.object is not None
    assert scan.object.dtype == np.complex64 and scan.object.shape == (OBJECT, OBJECT)
    # A raster of step 4 starting at the N/2 border.
    assert scan.xcoords[:3].tolist() == [32.0, 36.0, 40.0]


def test_progress_reports_every_step_and_epoch(trained: tuple[pp.Model, list[dict[str, Any]]]) -> None:
    model, events = trained
    kinds = [e["event"] for e in events]
    steps_per_epoch = GROUPS // BATCH
    assert kinds[0] == "start" and kinds[-1] == "finish"
    assert kinds.count("step") == EPOCHS * steps_per_epoch
    assert kinds.count("epoch") == EPOCHS
    assert events[0]["epochs"] == EPOCHS and events[0]["steps_per_epoch"] == steps_per_epoch
    assert events[-1]["outcome"] == "completed"
    epoch_losses = [e["loss"] for e in events if e["event"] == "epoch"]
    history = model.history
    assert history is not None and len(history) == EPOCHS
    assert [h["loss"] for h in history] == epoch_losses


def test_train_save_load_reconstruct(
    trained: tuple[pp.Model, list[dict[str, Any]]], scan: pp.Scan, tmp_path: Path
) -> None:
    model, _ = trained
    bundle = model.save(tmp_path)
    assert bundle == tmp_path / "wts.h5.zip" and bundle.is_file()
    assert model.bundle_path == bundle

    loaded = pp.load_bundle(tmp_path)
    assert loaded.history is None
    assert loaded.config.model.N == N and loaded.config.model.gridsize == 1
    assert loaded.config.nepochs == EPOCHS and loaded.config.n_groups == GROUPS

    direct = model.reconstruct(scan)
    again = pp.reconstruct(tmp_path, scan)
    for rec in (direct, again):
        assert rec.object.dtype == np.complex64 and rec.object.ndim == 2
        assert np.isfinite(rec.object).all()
        assert rec.groups == GROUPS
    assert again.object.shape == direct.object.shape
    assert again.origin == direct.origin
    np.testing.assert_allclose(again.object, direct.object, rtol=0, atol=1e-5)
    # The scan has its ground truth, so the reconstruction is scored.
    assert again.metrics is not None and "metrics" in again.metrics


def test_train_and_reconstruct_on_files(tmp_path: Path) -> None:
    path = tmp_path / "scan.npz"
    written = pp.simulate(n=N, object_size=OBJECT, n_images=GROUPS, grid_step=4.0, seed=5, output=path)
    assert path.is_file()
    model = pp.train(path, small_config(epochs=1), seed=2)
    assert model.config.model.N == N
    saved = model.save(tmp_path / "model.zip")
    assert saved == tmp_path / "model.zip" and saved.is_file()
    rec = pp.reconstruct(saved, path, stitch_weighting="probe")
    from_arrays = pp.load_bundle(saved).reconstruct(written, stitch_weighting="probe")
    np.testing.assert_allclose(rec.object, from_arrays.object, rtol=0, atol=1e-5)


def test_pattern_size_and_photons_come_from_the_data(scan: pp.Scan) -> None:
    config = pp.TrainingConfig(
        model={"n_filters_scale": 1}, nepochs=1, n_groups=GROUPS, batch_size=BATCH
    )
    assert "N" not in config.model.to_dict()
    # Simulated amplitudes are normalised, not photon counts: nphotons keeps its default.
    model = pp.train(scan.as_dict(), config, seed=1)
    assert model.config.model.N == N
    assert model.config.nphotons == pp.TrainingConfig().nphotons
    # Square roots of whole counts are measured data: nphotons is their mean per pattern.
    counts = np.round((scan.diffraction.astype(np.float64) * 3.0) ** 2)
    measured = scan.as_dict() | {"diffraction": np.sqrt(counts).astype(np.float32)}
    model = pp.train(measured, config, seed=1)
    expected = float(np.mean(np.sum(counts, axis=(1, 2))))
    assert abs(model.config.nphotons - expected) / expected < 1e-6
