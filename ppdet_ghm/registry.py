"""Registration of ppdet_ghm modules into PaddleDetection's workspace.

PaddleDetection's ``register`` raises on a duplicate class name.  Importing
``ppdet_ghm`` twice is a no-op in Python, but ``importlib.reload`` (or a
notebook's autoreload) executes the module again; that must not crash, and a
name clash with a *different* module (e.g. PaddleDetection's own ``FocalLoss``)
must still be a clear error.
"""
from .compat import schema_module

__all__ = ['register']


def register(cls):
    """Register ``cls`` with ``ppdet.core.workspace`` once; idempotent on reload.

    A re-executed module keeps its existing schema (and so any values a loaded
    yml config merged into it); ``workspace.create`` looks the class up by name
    on the (reloaded) module object, so it builds the new class.
    """
    if not isinstance(cls, type):
        raise TypeError('register: expected a class, got {!r}'.format(cls))
    from ppdet.core import workspace  # at call time: see ppdet_ghm/__init__.py
    existing = workspace.global_config.get(cls.__name__)
    if existing is None:
        return workspace.register(cls)
    owner = getattr(schema_module(existing), '__name__', None)
    if owner != cls.__module__:
        raise ValueError(
            "ppdet_ghm cannot register '{}' from {}: that name is already "
            "registered by {}".format(cls.__name__, cls.__module__, owner))
    return cls
