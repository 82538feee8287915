"""A ptychodus reconstructor library for PtychoPINN in Rust.

ptychodus (AdvancedPhotonSource/ptychodus, checked against 1.7.0 from PyPI) builds its list of
reconstructors from :class:`ptychodus.api.reconstruct.ReconstructorLibrary` objects created
with ``(settings_registry, is_developer_mode_enabled)`` in ``ptychodus.model.core.ModelCore``,
and keys each reconstructor ``"{library.name}_{reconstructor.name}"`` (casefolded).
:class:`PtychoPINNRustReconstructorLibrary` has that shape: appended to ModelCore's list it
appears as ``PtychoPINN (Rust)/PINN`` beside ptychodus's own ``PtychoPINN/PINN``.

The reconstructor follows ptychodus's TensorFlow PtychoPINN reconstructor: the same model,
training and inference settings (own settings groups ``PtychoPINNRust*``, same parameter names
and defaults), a single probe mode and object layer, square patterns, training data exported
as ptychodus's PtychoPINN NPZ (``train_data.npz``, optional ``test_data.npz``), and the model
file ``wts.h5.zip``. ptychodus's patterns are photon counts; the network takes amplitudes, so
they are square-rooted after ptychodus's bad-pixel inpainting. Training runs in a worker thread
and yields one :class:`TrainOutput` per epoch; ptychodus stopping the task cancels training
before its next step.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, Optional

import numpy as np

from ptychodus.api.io import save_ptychopinn_training_data
from ptychodus.api.object import Object, ObjectCenter
from ptychodus.api.observer import Observable, Observer
from ptychodus.api.preprocess.diffraction import inpaint_bad_pixels
from ptychodus.api.product import LossValue, Product
from ptychodus.api.reconstruct import (
    ReconstructInput,
    ReconstructOutput,
    Reconstructor,
    ReconstructorLibrary,
    TrainableReconstructor,
    TrainOutput,
)
from ptychodus.api.settings import SettingsRegistry

from .api import Model, Scan, load_bundle, train
from .config import ModelConfig, TrainingConfig

__all__ = [
    "PtychoPINNRustInferenceSettings",
    "PtychoPINNRustModelSettings",
    "PtychoPINNRustReconstructor",
    "PtychoPINNRustReconstructorLibrary",
    "PtychoPINNRustTrainingSettings",
]

logger = logging.getLogger(__name__)

LIBRARY_NAME: Final[str] = "PtychoPINN (Rust)"
MODEL_FILE_NAME: Final[str] = "wts.h5.zip"


class _Settings(Observable, Observer):
    def __init__(self, registry: SettingsRegistry, group: str) -> None:
        super().__init__()
        self._group = registry.create_group(group)
        self._group.add_observer(self)

    def _update(self, observable: Observable) -> None:
        if observable is self._group:
            self.notify_observers()


class PtychoPINNRustModelSettings(_Settings):
    """ptychodus's PtychoPINN model settings (same names and defaults)."""

    def __init__(self, registry: SettingsRegistry) -> None:
        super().__init__(registry, "PtychoPINNRustModel")
        g = self._group
        self.gridsize = g.create_integer_parameter("GridSize", 1, minimum=1, maximum=5)
        self.n_filters_scale = g.create_integer_parameter(
            "NumFiltersScale", 2, minimum=1, maximum=4
        )
        self.amp_activation = g.create_string_parameter("AmpActivation", "sigmoid")
        self.object_big = g.create_boolean_parameter("ObjectBig", True)
        self.probe_big = g.create_boolean_parameter("ProbeBig", True)
        self.probe_mask = g.create_boolean_parameter("ProbeMask", False)
        self.pad_object = g.create_boolean_parameter("PadObject", True)
        self.probe_scale = g.create_real_parameter("ProbeScale", 4.0, minimum=0.0)
        self.gaussian_smoothing_sigma = g.create_real_parameter(
            "GaussianSmoothingSigma", 0.0, minimum=0.0
        )


class PtychoPINNRustTrainingSettings(_Settings):
    """ptychodus's PtychoPINN training settings (same names and defaults)."""

    def __init__(self, registry: SettingsRegistry) -> None:
        super().__init__(registry, "PtychoPINNRustTraining")
        g = self._group
        self.nphotons = g.create_real_parameter("NumPhotons", 1e6, minimum=0.0)
        self.batch_size = g.create_integer_parameter("BatchSize", 16, minimum=1, maximum=1 << 30)
        self.nepochs = g.create_integer_parameter("NumEpochs", 50, minimum=1)
        self.mae_weight = g.create_real_parameter("MAEWeight", 0.0, minimum=0.0, maximum=1.0)
        self.nll_weight = g.create_real_parameter("NLLWeight", 1.0, minimum=0.0, maximum=1.0)
        self.realspace_mae_weight = g.create_real_parameter(
            "RealspaceMAEWeight", 0.0, minimum=0.0, maximum=1.0
        )
        self.realspace_weight = g.create_real_parameter(
            "RealspaceWeight", 0.0, minimum=0.0, maximum=1.0
        )
        self.positions_provided = g.create_boolean_parameter("PositionsProvided", True)
        self.probe_trainable = g.create_boolean_parameter("ProbeTrainable", False)
        self.intensity_scale_trainable = g.create_boolean_parameter(
            "IntensityScaleTrainable", True
        )


class PtychoPINNRustInferenceSettings(_Settings):
    """ptychodus's PtychoPINN inference settings (same names and defaults)."""

    def __init__(self, registry: SettingsRegistry) -> None:
        super().__init__(registry, "PtychoPINNRustInference")
        g = self._group
        self.model_path = g.create_path_parameter("ModelPath", Path("/path/to/model.zip"))
        self.n_nearest_neighbors = g.create_integer_parameter(
            "NumNearestNeighbors", 7, minimum=0
        )
        self.n_samples = g.create_integer_parameter("NumSamples", 1, minimum=1)


def _scan_from_input(parameters: ReconstructInput) -> Scan:
    """The scan of a ptychodus input: counts to amplitudes, one probe mode, object pixels."""
    patterns = parameters.diffraction_patterns
    if patterns.ndim != 3 or patterns.shape[-1] != patterns.shape[-2]:
        raise ValueError(
            "diffraction patterns: expected square patterns (n, N, N), "
            f"found shape {tuple(patterns.shape)}"
        )
    counts = inpaint_bad_pixels(patterns, parameters.bad_pixels)
    product = parameters.product
    geometry = product.object_.get_geometry()
    positions = product.probe_positions
    return Scan(
        diffraction=np.sqrt(np.clip(counts, 0, None)).astype(np.float32),
        xcoords=np.asarray(geometry.map_probe_positions_to_object_x_px(positions), np.float64),
        ycoords=np.asarray(geometry.map_probe_positions_to_object_y_px(positions), np.float64),
        probe=_first_mode(product.probes.get_probe_no_opr().get_array()),
    )


def _first_mode(probe: Any) -> Any:
    array = np.asarray(probe)
    while array.ndim > 2:
        array = array[0]
    return np.ascontiguousarray(array, dtype=np.complex64)


def _scan_from_npz(path: Path) -> Scan:
    """A training file written by ptychodus's ``save_ptychopinn_training_data``."""
    with np.load(path) as data:
        return Scan(
            diffraction=np.sqrt(np.clip(data["diff3d"], 0, None)).astype(np.float32),
            xcoords=np.asarray(data["xcoords"], np.float64),
            ycoords=np.asarray(data["ycoords"], np.float64),
            probe=_first_mode(data["probeGuess"]),
        )


class _Stop(Exception):
    """Raised from the progress callback when ptychodus stops the training task."""


class PtychoPINNRustReconstructor(TrainableReconstructor):
    """PtychoPINN (Rust) in ptychodus's ``TrainableReconstructor`` shape."""

    MODEL_FILE_FILTER: Final[str] = "Zipped Archive (*.zip)"
    TRAINING_DATA_FILE_FILTER: Final[str] = "NumPy Zipped Archive (*.npz)"

    def __init__(
        self,
        name: str,
        model_settings: PtychoPINNRustModelSettings,
        inference_settings: PtychoPINNRustInferenceSettings,
        training_settings: PtychoPINNRustTrainingSettings,
    ) -> None:
        super().__init__()
        self._name = name
        self._model_settings = model_settings
        self._inference_settings = inference_settings
        self._training_settings = training_settings
        self._model: Optional[Model] = None

    @property
    def name(self) -> str:
        return self._name

    def get_progress_goal(self) -> int:
        return int(self._training_settings.nepochs.get_value())

    def training_config(self) -> TrainingConfig:
        """The canonical training configuration the settings stand for (``N`` from the data)."""
        m, t = self._model_settings, self._training_settings
        model = ModelConfig(
            gridsize=m.gridsize.get_value(),
            n_filters_scale=m.n_filters_scale.get_value(),
            model_type=self._name.lower(),
            amp_activation=m.amp_activation.get_value(),
            object_big=m.object_big.get_value(),
            probe_big=m.probe_big.get_value(),
            probe_mask=m.probe_mask.get_value(),
            pad_object=m.pad_object.get_value(),
            probe_scale=m.probe_scale.get_value(),
            gaussian_smoothing_sigma=m.gaussian_smoothing_sigma.get_value(),
        )
        return TrainingConfig(
            model=model,
            batch_size=t.batch_size.get_value(),
            nepochs=t.nepochs.get_value(),
            mae_weight=t.mae_weight.get_value(),
            nll_weight=t.nll_weight.get_value(),
            realspace_mae_weight=t.realspace_mae_weight.get_value(),
            realspace_weight=t.realspace_weight.get_value(),
            nphotons=t.nphotons.get_value(),
            positions_provided=t.positions_provided.get_value(),
            probe_trainable=t.probe_trainable.get_value(),
            intensity_scale_trainable=t.intensity_scale_trainable.get_value(),
            neighbor_count=self._inference_settings.n_nearest_neighbors.get_value(),
        )

    def reconstruct(self, parameters: ReconstructInput) -> Iterator[ReconstructOutput]:
        if self._model is None:
            raise RuntimeError("Cannot reconstruct: no PtychoPINN (Rust) model has been loaded.")
        result = self._model.reconstruct(_scan_from_input(parameters))
        object_in = parameters.product.object_
        geometry = object_in.get_geometry()
        height, width = result.object.shape
        # Stitched pixel (r, c) is input-object pixel (origin_y + r, origin_x + c).
        origin_x, origin_y = result.origin
        center = ObjectCenter(
            x_m=geometry.center_x_m
            + (origin_x + (width - 1) / 2 - (geometry.width_px - 1) / 2) * geometry.pixel_width_m,
            y_m=geometry.center_y_m
            + (origin_y + (height - 1) / 2 - (geometry.height_px - 1) / 2)
            * geometry.pixel_height_m,
        )
        object_out = Object(
            array=result.object,
            pixel_geometry=object_in.get_pixel_geometry(),
            center=center,
        )
        product = Product(
            metadata=parameters.product.metadata,
            probe_positions=parameters.product.probe_positions,
            probes=parameters.product.probes,
            object_=object_out,
            losses=list(parameters.product.losses),
        )
        yield ReconstructOutput(product, progress=self.get_progress_goal())

    def is_model_loaded(self) -> bool:
        return self._model is not None

    def get_model_file_filter(self) -> str:
        return self.MODEL_FILE_FILTER

    def load_model_from_file(self, file_path: Path) -> None:
        if file_path.name != MODEL_FILE_NAME:
            logger.warning(f"PtychoPINN (Rust) expects the file name {MODEL_FILE_NAME!r}.")
        self._model = load_bundle(file_path)
        self._inference_settings.model_path.set_value(file_path)

    def get_model_file_extension(self) -> str:
        return ".zip"

    def save_model(self, file_path: Path) -> None:
        if self._model is None:
            raise RuntimeError("Cannot save PtychoPINN (Rust) model: none loaded or trained.")
        self._model.save(file_path)

    def get_training_data_file_filter(self) -> str:
        return self.TRAINING_DATA_FILE_FILTER

    def export_training_data(self, file_path: Path, parameters: ReconstructInput) -> None:
        save_ptychopinn_training_data(file_path, parameters)

    def train(self, input_path: Path, output_path: Path) -> Iterator[TrainOutput]:
        """Trains on ``input_path`` (a directory with ``train_data.npz`` and optionally
        ``test_data.npz``, or one such file), yields one output per epoch, writes
        ``output_path/wts.h5.zip`` and loads it."""
        input_path, output_path = Path(input_path), Path(output_path)
        train_file = input_path / "train_data.npz" if input_path.is_dir() else input_path
        test_file = input_path / "test_data.npz" if input_path.is_dir() else None
        train_scan = _scan_from_npz(train_file)
        test_scan = _scan_from_npz(test_file) if test_file and test_file.exists() else None
        config = self.training_config()
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()

        def progress(event: dict[str, Any]) -> None:
            if stop.is_set():
                raise _Stop()
            if event["event"] == "epoch":
                events.put(("epoch", event))

        def work() -> None:
            try:
                model = train(train_scan, config, test_data=test_scan, progress=progress)
                events.put(("done", model))
            except BaseException as err:  # handed to the generator, raised there
                events.put(("error", err))

        worker = threading.Thread(target=work, name="ptychopinn-train", daemon=True)
        worker.start()
        losses: list[LossValue] = []
        val_losses: list[LossValue] = []
        try:
            while True:
                kind, payload = events.get()
                if kind == "epoch":
                    epoch = int(payload["epoch"]) + 1
                    losses.append(LossValue(epoch, float(payload["loss"])))
                    if payload.get("val_loss") is not None:
                        val_losses.append(LossValue(epoch, float(payload["val_loss"])))
                    yield TrainOutput(list(losses), list(val_losses), progress=epoch)
                elif kind == "error":
                    if isinstance(payload, _Stop):
                        return
                    raise payload
                else:
                    output_path.mkdir(parents=True, exist_ok=True)
                    self._model = payload
                    saved = payload.save(output_path / MODEL_FILE_NAME)
                    self._inference_settings.model_path.set_value(saved)
                    yield TrainOutput(list(losses), list(val_losses), progress=len(losses))
                    return
        finally:
            stop.set()
            worker.join()


class PtychoPINNRustReconstructorLibrary(ReconstructorLibrary):
    """The library ptychodus lists as ``PtychoPINN (Rust)``."""

    def __init__(
        self, settings_registry: SettingsRegistry, is_developer_mode_enabled: bool = False
    ) -> None:
        super().__init__("ptychopinn_rust")
        self.model_settings = PtychoPINNRustModelSettings(settings_registry)
        self.training_settings = PtychoPINNRustTrainingSettings(settings_registry)
        self.inference_settings = PtychoPINNRustInferenceSettings(settings_registry)
        self.is_developer_mode_enabled = is_developer_mode_enabled
        self._reconstructors: list[TrainableReconstructor] = [
            PtychoPINNRustReconstructor(
                "PINN", self.model_settings, self.inference_settings, self.training_settings
            )
        ]

    @property
    def name(self) -> str:
        return LIBRARY_NAME

    def __iter__(self) -> Iterator[Reconstructor]:
        return iter(self._reconstructors)
