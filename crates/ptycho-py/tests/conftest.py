"""Shared fixtures: one small simulated scan and one model trained on it (N = 64, gridsize 1,
64 positions, n_filters_scale 1, 2 epochs: a few seconds)."""

from __future__ import annotations

from typing import Any

import pytest

import ptychopinn as pp

N = 64
OBJECT = 100
EPOCHS = 2
GROUPS = 64
BATCH = 16


def small_config(epochs: int = EPOCHS) -> pp.TrainingConfig:
    return pp.TrainingConfig(
        model=pp.ModelConfig(N=N, gridsize=1, n_filters_scale=1),
        nepochs=epochs,
        n_groups=GROUPS,
        batch_size=BATCH,
    )


@pytest.fixture(scope="session")
def scan() -> pp.Scan:
    return pp.simulate(n=N, object_size=OBJECT, n_images=GROUPS, grid_step=4.0, nphotons=1e6, seed=3)


@pytest.fixture(scope="session")
def trained(scan: pp.Scan) -> tuple[pp.Model, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    model = pp.train(scan, small_config(), seed=1, progress=events.append)
    return model, events
