"""Configuration objects that mirror the canonical configuration (same section and field
names as a ``ptycho`` configuration file).

Every object is checked by the Rust configuration when it is built: an unknown field is refused
with the nearest valid name, a bad value with the field, what was expected and what was found,
all raised as ``ValueError``. Attribute access gives a field's effective value (the default
when it was not set)::

    config = TrainingConfig(model=ModelConfig(N=32, gridsize=1), nepochs=2, n_groups=64)
    config.nepochs, config.model.N, config.batch_size
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Optional, Union

from . import _native

__all__ = ["ExecutionConfig", "ModelConfig", "TrainingConfig", "document"]

_SECTIONS = ("model", "training", "inference", "execution")


class _Section:
    """One section of the canonical configuration: the fields set, checked on creation."""

    _section: ClassVar[str] = ""

    def __init__(self, **fields: Any) -> None:
        self._fields: dict[str, Any] = dict(fields)
        self._effective: dict[str, Any] = _check(self._document())[self._section]

    def _document(self) -> dict[str, Any]:
        return {self._section: dict(self._fields)}

    def to_dict(self) -> dict[str, Any]:
        """The fields that were set, as given."""
        return dict(self._fields)

    def effective(self) -> dict[str, Any]:
        """Every field of the section with its effective value."""
        return dict(self._effective)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._effective[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no field `{name}`"
            ) from None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.effective() == self.effective()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{type(self).__name__}({args})"


class ModelConfig(_Section):
    """The ``model`` section (``N``, ``gridsize``, ``n_filters_scale``, ``amp_activation``, ...)."""

    _section = "model"


class ExecutionConfig(_Section):
    """The ``execution`` section (``learning_rate``, ``accelerator``, ``validation_split``, ...)."""

    _section = "execution"


class TrainingConfig(_Section):
    """The ``training`` section (``nepochs``, ``batch_size``, ``n_groups``, ``nphotons``, ...)
    with its ``model``."""

    _section = "training"

    def __init__(
        self, model: Union[ModelConfig, Mapping[str, Any], None] = None, **fields: Any
    ) -> None:
        if model is None:
            model = ModelConfig()
        elif not isinstance(model, ModelConfig):
            model = ModelConfig(**dict(model))
        self.model: ModelConfig = model
        super().__init__(**fields)

    def _document(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "training": dict(self._fields)}

    def to_dict(self) -> dict[str, Any]:
        """The fields that were set, with ``model`` as a dict of its fields."""
        return {"model": self.model.to_dict(), **self._fields}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"TrainingConfig(model={self.model!r}{', ' if args else ''}{args})"


ConfigLike = Union[TrainingConfig, Mapping[str, Any], None]
ExecutionLike = Union[ExecutionConfig, Mapping[str, Any], None]


def document(config: ConfigLike = None, execution: ExecutionLike = None) -> dict[str, Any]:
    """The configuration document sent to the library: a :class:`TrainingConfig`, or a mapping
    laid out as a configuration file (sectioned, or upstream's flat layout), plus the execution
    settings."""
    if config is None:
        doc: dict[str, Any] = {}
    elif isinstance(config, TrainingConfig):
        doc = {"model": config.model.to_dict(), "training": config.to_dict()}
        doc["training"].pop("model")
    elif isinstance(config, Mapping):
        doc = json.loads(json.dumps(dict(config), default=str))
    else:
        raise ValueError(
            "config: expected a TrainingConfig, a mapping or None, "
            f"found {type(config).__name__}"
        )
    if execution is not None:
        if isinstance(execution, ExecutionConfig):
            fields = execution.to_dict()
        elif isinstance(execution, Mapping):
            fields = dict(execution)
        else:
            raise ValueError(
                "execution: expected an ExecutionConfig, a mapping or None, "
                f"found {type(execution).__name__}"
            )
        if not doc or any(section in doc for section in _SECTIONS):
            doc.setdefault("execution", {}).update(fields)
        else:
            doc.update(fields)
    return doc


def _check(doc: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_native.check_config(_dumps(doc)))
    return result


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, default=str)


def dumps(config: ConfigLike = None, execution: ExecutionLike = None) -> Optional[str]:
    """The JSON text of :func:`document` (``None`` for the defaults)."""
    doc = document(config, execution)
    return _dumps(doc) if doc else None
