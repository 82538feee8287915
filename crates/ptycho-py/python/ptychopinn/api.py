"""Training, reconstruction and simulation on numpy arrays and on NPZ files.

A scan is either a path to a canonical NPZ or arrays: a :class:`Scan` or a mapping with
``diffraction`` (float32 amplitudes, ``(n, N, N)``), ``xcoords`` and ``ycoords`` (float64,
``(n,)``, object pixels), ``probe`` (complex64, ``(N, N)``) and optionally ``object``
(complex64, ``(H, W)``, the ground truth that metrics are computed against). Wrong dtypes and
shapes raise ``ValueError`` naming the argument; nothing is converted silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np
import numpy.typing as npt

from . import _native
from .config import ConfigLike, ExecutionLike, ModelConfig, TrainingConfig, dumps

__all__ = [
    "Model",
    "Reconstruction",
    "Scan",
    "ScanLike",
    "load_bundle",
    "reconstruct",
    "simulate",
    "train",
]

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Scan:
    """A ptychographic scan as arrays (the canonical NPZ's content)."""

    diffraction: npt.NDArray[np.float32]
    xcoords: npt.NDArray[np.float64]
    ycoords: npt.NDArray[np.float64]
    probe: npt.NDArray[np.complex64]
    object: Optional[npt.NDArray[np.complex64]] = None

    def as_dict(self) -> dict[str, Any]:
        """The arrays by name (no copies)."""
        return {
            "diffraction": self.diffraction,
            "xcoords": self.xcoords,
            "ycoords": self.ycoords,
            "probe": self.probe,
            "object": self.object,
        }


ScanLike = Union[Scan, Mapping[str, Any], str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Reconstruction:
    """A stitched reconstruction."""

    object: npt.NDArray[np.complex64]
    """The stitched complex object, 2-D."""
    origin: tuple[float, float]
    """(x, y) of the object's pixel (0, 0) in the scan's object-pixel coordinates."""
    crop: int
    """The central crop of each patch that was stitched."""
    groups: int
    """How many groups were reconstructed."""
    metrics: Optional[dict[str, Any]]
    """Amplitude and phase metrics against the scan's ground truth, when it has one."""


def _scan_arg(data: ScanLike) -> Any:
    if isinstance(data, Scan):
        return data.as_dict()
    if isinstance(data, Mapping):
        return dict(data)
    return data


class Model:
    """A trained or loaded PtychoPINN model."""

    def __init__(self, native: _native.Model) -> None:
        self._native = native

    @property
    def config(self) -> TrainingConfig:
        """The training configuration the model was built with."""
        doc = json.loads(self._native.config_json)
        model = ModelConfig(**{k: v for k, v in doc["model"].items() if v is not None})
        training = {k: v for k, v in doc["training"].items() if v is not None}
        return TrainingConfig(model=model, **training)

    @property
    def history(self) -> Optional[list[dict[str, Any]]]:
        """One dict per trained epoch (``epoch``, ``loss``, ``val_loss``, ``learning_rate``,
        ...) when this process trained the model, else ``None``."""
        text = self._native.history_json
        if text is None:
            return None
        epochs: list[dict[str, Any]] = json.loads(text)["epochs"]
        return epochs

    @property
    def bundle_path(self) -> Optional[Path]:
        """The bundle the model was loaded from or last saved to."""
        path = self._native.bundle_path
        return None if path is None else Path(path)

    def save(self, path: Union[str, "os.PathLike[str]"]) -> Path:
        """Writes the bundle: into directory ``path`` as ``wts.h5.zip``, or to ``path`` when it
        ends in ``.zip``; returns the archive's path."""
        return Path(self._native.save(os.fspath(path)))

    def reconstruct(
        self,
        data: ScanLike,
        *,
        n_groups: Optional[int] = None,
        stitch_weighting: str = "uniform",
        stitch_crop: Optional[int] = None,
        batch_size: Optional[int] = None,
    ) -> Reconstruction:
        """Reconstructs ``data`` and stitches the object. ``n_groups``: how many groups (every
        position for gridsize 1, else the model's ``n_groups``); ``stitch_weighting``:
        ``"uniform"`` (central crop) or ``"probe"`` (probe-intensity weights)."""
        out = self._native.reconstruct(
            _scan_arg(data),
            n_groups=n_groups,
            stitch_weighting=stitch_weighting,
            stitch_crop=stitch_crop,
            batch_size=batch_size,
        )
        metrics = out["metrics_json"]
        return Reconstruction(
            object=out["object"],
            origin=out["origin"],
            crop=out["crop"],
            groups=out["groups"],
            metrics=None if metrics is None else json.loads(metrics),
        )

    def __repr__(self) -> str:
        model = self.config.model
        return f"Model(N={model.N}, gridsize={model.gridsize}, bundle={self.bundle_path})"


def train(
    data: ScanLike,
    config: ConfigLike = None,
    *,
    execution: ExecutionLike = None,
    test_data: Optional[ScanLike] = None,
    seed: Optional[int] = None,
    progress: Optional[ProgressCallback] = None,
    checkpoint_dir: Union[str, "os.PathLike[str]", None] = None,
) -> Model:
    """Trains a model on ``data``. Unless the configuration sets them, ``model.N`` is the data's
    pattern size and ``training.nphotons`` its mean photon count (when the amplitudes are
    square roots of counts), as ``ptycho train`` does. ``progress`` is called with a dict per
    event: ``start``, ``step`` (epoch, step, loss, ...), ``epoch`` and ``finish``. Ctrl-C stops
    training before its next step and raises ``KeyboardInterrupt``; an exception raised by
    ``progress`` stops it the same way and is re-raised."""
    native = _native.train(
        _scan_arg(data),
        dumps(config, execution),
        test_data=None if test_data is None else _scan_arg(test_data),
        seed=seed,
        progress=progress,
        checkpoint_dir=None if checkpoint_dir is None else os.fspath(checkpoint_dir),
    )
    return Model(native)


def load_bundle(path: Union[str, "os.PathLike[str]"]) -> Model:
    """Loads a model bundle: a directory holding ``wts.h5.zip``, or the archive itself."""
    return Model(_native.load_bundle(os.fspath(path)))


def reconstruct(
    model: Union[Model, str, "os.PathLike[str]"],
    data: ScanLike,
    *,
    n_groups: Optional[int] = None,
    stitch_weighting: str = "uniform",
    stitch_crop: Optional[int] = None,
    batch_size: Optional[int] = None,
) -> Reconstruction:
    """Reconstructs ``data`` with ``model`` (a :class:`Model` or a bundle path); see
    :meth:`Model.reconstruct`."""
    if not isinstance(model, Model):
        model = load_bundle(model)
    return model.reconstruct(
        data,
        n_groups=n_groups,
        stitch_weighting=stitch_weighting,
        stitch_crop=stitch_crop,
        batch_size=batch_size,
    )


def simulate(
    *,
    n: int = 64,
    object_size: int = 256,
    object: str = "lines",
    n_images: int = 500,
    grid_step: Optional[float] = None,
    nphotons: float = 1e9,
    poisson: bool = True,
    seed: int = 42,
    output: Union[str, "os.PathLike[str]", None] = None,
) -> Scan:
    """Simulates a scan with ground truth, as ``ptycho simulate`` does: ``n``-pixel patterns of a
    ``"lines"`` or ``"grf"`` object, ``n_images`` positions on a raster of step ``grid_step``
    (random when ``None``); writes the NPZ to ``output`` when given."""
    arrays = _native.simulate(
        n=n,
        object_size=object_size,
        object=object,
        n_images=n_images,
        grid_step=grid_step,
        nphotons=nphotons,
        poisson=poisson,
        seed=seed,
        output=None if output is None else os.fspath(output),
    )
    return Scan(**arrays)
