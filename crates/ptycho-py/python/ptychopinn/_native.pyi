"""Type stubs of the native extension ``ptychopinn._native`` (crates/ptycho-py/src)."""

from typing import Any, Callable, Optional

__version__: str

class Model:
    @property
    def config_json(self) -> str: ...
    @property
    def history_json(self) -> Optional[str]: ...
    @property
    def bundle_path(self) -> Optional[str]: ...
    def save(self, path: str) -> str: ...
    def reconstruct(
        self,
        data: Any,
        *,
        n_groups: Optional[int] = None,
        stitch_weighting: str = "uniform",
        stitch_crop: Optional[int] = None,
        batch_size: Optional[int] = None,
    ) -> dict[str, Any]: ...

def train(
    train_data: Any,
    config_json: Optional[str] = None,
    *,
    test_data: Any = None,
    seed: Optional[int] = None,
    progress: Optional[Callable[[dict[str, Any]], None]] = None,
    checkpoint_dir: Optional[str] = None,
) -> Model: ...
def load_bundle(path: str) -> Model: ...
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
    output: Optional[str] = None,
) -> dict[str, Any]: ...
def check_config(config_json: str) -> str: ...
