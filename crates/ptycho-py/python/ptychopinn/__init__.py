"""PtychoPINN in Rust from Python: train a physics-informed neural network on a ptychographic
scan, save and load its bundle (``wts.h5.zip``), reconstruct new scans, simulate scans.

    import ptychopinn as pp
    scan = pp.simulate(n=64, object_size=128, n_images=256, grid_step=4.0)
    model = pp.train(scan, pp.TrainingConfig(nepochs=20, n_groups=256, batch_size=16))
    model.save("run")
    obj = pp.reconstruct("run", scan).object   # complex64, 2-D
"""

from ._native import __version__
from .api import Model, Reconstruction, Scan, load_bundle, reconstruct, simulate, train
from .config import ExecutionConfig, ModelConfig, TrainingConfig

__all__ = [
    "ExecutionConfig",
    "Model",
    "ModelConfig",
    "Reconstruction",
    "Scan",
    "TrainingConfig",
    "__version__",
    "load_bundle",
    "reconstruct",
    "simulate",
    "train",
]
