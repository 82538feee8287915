"""The ptychodus reconstructor, called the way ptychodus 1.7.0 (installed from PyPI, headless:
no GUI extra) calls it: the library listed through ptychodus's own
``ProcessingAlgorithmParameter`` beside ptychodus's PtychoPINN library, a ``ReconstructInput``
built from ptychodus's product classes, training iterated like ``TrainBackgroundTask``,
reconstruction like ``ReconstructBackgroundTask``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptychodus.api.object import Object, ObjectCenter
from ptychodus.api.geometry import PixelGeometry
from ptychodus.api.probe import ProbeSequence
from ptychodus.api.probe_positions import ProbePosition, ProbePositionSequence
from ptychodus.api.product import Product, ProductMetadata
from ptychodus.api.reconstruct import ReconstructInput, TrainableReconstructor
from ptychodus.api.settings import SettingsRegistry
from ptychodus.model.processing.api import ProcessingAlgorithmParameter
from ptychodus.model.ptychopinn import PtychoPINNReconstructorLibrary

import ptychopinn as pp
from ptychopinn.ptychodus import PtychoPINNRustReconstructor, PtychoPINNRustReconstructorLibrary
from conftest import BATCH, GROUPS, N

PIXEL_M = 10e-9


def make_input(scan: pp.Scan) -> ReconstructInput:
    """The scan as ptychodus holds it: counts, positions in metres, a 4-D probe, an object
    guess with its own geometry (centred at (1 µm, -2 µm))."""
    assert scan.object is not None
    height, width = scan.object.shape
    center = ObjectCenter(x_m=1e-6, y_m=-2e-6)
    x_m = (scan.xcoords - (width - 1) / 2) * PIXEL_M + center.x_m
    y_m = (scan.ycoords - (height - 1) / 2) * PIXEL_M + center.y_m
    pixel = PixelGeometry(width_m=PIXEL_M, height_m=PIXEL_M)
    product = Product(
        metadata=ProductMetadata(
            name="sim",
            comments="",
            detector_distance_m=2.0,
            photon_energy_eV=10000.0,
            probe_photon_count=0.0,
            exposure_time_s=0.0,
            mass_attenuation_m2_per_kg=0.0,
            tomography_angle_deg=0.0,
        ),
        probe_positions=ProbePositionSequence(
            [ProbePosition(i, float(x), float(y)) for i, (x, y) in enumerate(zip(x_m, y_m))]
        ),
        probes=ProbeSequence(scan.probe[np.newaxis, np.newaxis], None, pixel),
        object_=Object(np.ones((1, height, width), np.complex64), pixel, center),
        losses=[],
    )
    counts = scan.diffraction.astype(np.float64) ** 2
    return ReconstructInput(counts, np.zeros((N, N), dtype=bool), product)


@pytest.fixture()
def registry_and_library() -> tuple[ProcessingAlgorithmParameter, PtychoPINNRustReconstructorLibrary]:
    registry = SettingsRegistry()
    ours = PtychoPINNRustReconstructorLibrary(registry, False)
    theirs = PtychoPINNReconstructorLibrary(registry, True)  # Null reconstructors without TF
    parameter = registry.create_group("Processing").create_string_parameter("Algorithm", "")
    return ProcessingAlgorithmParameter(parameter, [theirs, ours]), ours


def test_listed_beside_ptychodus_own_ptychopinn(registry_and_library) -> None:
    algorithms, library = registry_and_library
    assert library.name == "PtychoPINN (Rust)"
    assert list(algorithms.available_reconstructors()) == [
        "ptychopinn_pinn",
        "ptychopinn_supervised",
        "ptychopinn (rust)_pinn",
    ]
    algorithms.set_value("PtychoPINN (Rust)_PINN")
    reconstructor = algorithms.get_current_reconstructor()
    assert isinstance(reconstructor, TrainableReconstructor)
    assert isinstance(reconstructor, PtychoPINNRustReconstructor)
    assert reconstructor.name == "PINN"
    assert reconstructor.get_model_file_filter() == "Zipped Archive (*.zip)"
    assert reconstructor.get_model_file_extension() == ".zip"
    assert reconstructor.get_training_data_file_filter() == "NumPy Zipped Archive (*.npz)"
    assert not reconstructor.is_model_loaded()


def test_default_settings_are_a_valid_configuration(registry_and_library) -> None:
    _, library = registry_and_library
    (reconstructor,) = list(library)
    config = reconstructor.training_config()
    assert (config.nepochs, config.batch_size, config.nphotons) == (50, 16, 1e6)
    assert (config.model.gridsize, config.model.n_filters_scale) == (1, 2)
    assert config.model.model_type == "pinn" and config.neighbor_count == 7


def test_export_train_save_load_reconstruct(
    registry_and_library, scan: pp.Scan, tmp_path: Path
) -> None:
    _, library = registry_and_library
    (reconstructor,) = list(library)
    library.training_settings.nepochs.set_value(2)
    library.training_settings.batch_size.set_value(BATCH)
    library.model_settings.n_filters_scale.set_value(1)
    parameters = make_input(scan)

    with pytest.raises(RuntimeError, match="no PtychoPINN \\(Rust\\) model has been loaded"):
        next(reconstructor.reconstruct(parameters))

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    reconstructor.export_training_data(data_dir / "train_data.npz", parameters)
    with np.load(data_dir / "train_data.npz") as exported:
        assert exported["diff3d"].shape == (GROUPS, N, N)

    outputs = list(reconstructor.train(data_dir, tmp_path / "out"))
    assert [o.progress for o in outputs] == [1, 2, 2]
    assert [loss.epoch for loss in outputs[-1].training_loss] == [1, 2]
    assert reconstructor.is_model_loaded()
    assert (tmp_path / "out" / "wts.h5.zip").is_file()

    reconstructor.save_model(tmp_path / "saved.zip")
    reconstructor.load_model_from_file(tmp_path / "saved.zip")
    assert library.inference_settings.model_path.get_value() == tmp_path / "saved.zip"

    (result,) = list(reconstructor.reconstruct(parameters))
    obj = result.product.object_
    assert obj.get_array().shape[0] == 1 and np.iscomplexobj(obj.get_array())
    # The same model through the Python API on the same scan (amplitudes from ptychodus's
    # counts, positions mapped back to object pixels by ptychodus): the same object, placed
    # where the scan positions say.
    positions = result.product.probe_positions
    geometry_in = parameters.product.object_.get_geometry()
    x_px = geometry_in.map_probe_positions_to_object_x_px(positions)
    y_px = geometry_in.map_probe_positions_to_object_y_px(positions)
    np.testing.assert_allclose(x_px, scan.xcoords, atol=1e-9)
    direct = pp.load_bundle(tmp_path / "saved.zip").reconstruct(
        {
            "diffraction": np.sqrt(parameters.diffraction_patterns).astype(np.float32),
            "xcoords": x_px,
            "ycoords": y_px,
            "probe": scan.probe,
        }
    )
    np.testing.assert_allclose(obj.get_layer(0), direct.object, rtol=0, atol=1e-5)
    geometry = obj.get_geometry()
    np.testing.assert_allclose(
        geometry.map_probe_positions_to_object_x_px(positions), x_px - direct.origin[0]
    )
    np.testing.assert_allclose(
        geometry.map_probe_positions_to_object_y_px(positions), y_px - direct.origin[1]
    )


def test_stopping_the_training_task_cancels_training(
    registry_and_library, scan: pp.Scan, tmp_path: Path
) -> None:
    _, library = registry_and_library
    (reconstructor,) = list(library)
    library.training_settings.nepochs.set_value(500)
    library.training_settings.batch_size.set_value(BATCH)
    library.model_settings.n_filters_scale.set_value(1)
    reconstructor.export_training_data(tmp_path / "train_data.npz", make_input(scan))
    outputs = reconstructor.train(tmp_path, tmp_path / "out")
    first = next(outputs)
    assert first.progress == 1
    outputs.close()  # what ptychodus's loop does when the task is stopped: it breaks out
    assert not reconstructor.is_model_loaded()
    assert not (tmp_path / "out").exists()
