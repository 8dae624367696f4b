"""GHM (Gradient Harmonized single-stage detector) for PaddleDetection.

``import ppdet_ghm`` registers the project's modules in
``ppdet.core.workspace`` so that PaddleDetection yml configs can name them:
``GHMCLoss``, ``GHMRLoss``, ``GHMRetinaHead``, ``GHMRetinaAnchorGenerator``,
``GHMRetinaAssigner``, ``DeltaXYWHBoxCoder``, ``GHMRetinaPostProcess``.

The registration needs PaddleDetection, and importing it takes seconds
(paddle, ppdet).  So it happens when PaddleDetection is imported: at once
if it already is, else right after ``ppdet`` is first imported (an import
hook, removed once it has fired).  Either way the workspace holds the
modules before anything can read a config, and ``import ppdet_ghm.data``
(the demo data, the dataset checks) stays free of paddle and ppdet.
"""
import importlib.abc
import importlib.util
import sys

__version__ = '0.1.0'
__all__ = ['GHMCLoss', 'GHMRLoss', 'register_modules']

# the modules whose import registers classes, in dependency order
_REGISTERING = ('ppdet_ghm.losses', 'ppdet_ghm.modeling')


def register_modules():
    """Import the registering modules (idempotent) and warn once per
    library outside the verified versions (``ppdet_ghm.compat``).

    A module in the middle of its own import (the one whose first use of
    ppdet fired the hook) is returned as is by ``import_module`` and
    registers itself when it finishes.
    """
    from . import compat
    for name in _REGISTERING:
        importlib.import_module(name)
    compat.check_versions()


class _RegisterAfterPpdetImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loader of ``ppdet`` so that
    :func:`register_modules` runs once ``ppdet`` has finished importing."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'ppdet':
            return None
        sys.meta_path.remove(self)  # fires once; lets the real finders work
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_modules()

        spec.loader.exec_module = exec_then_register  # this spec's loader only
        return spec


def _install():
    if 'ppdet' in sys.modules:
        register_modules()
    elif not any(isinstance(f, _RegisterAfterPpdetImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterPpdetImport())


def __getattr__(name):  # ppdet_ghm.GHMCLoss without importing paddle up front
    if name in ('GHMCLoss', 'GHMRLoss'):
        from . import losses
        return getattr(losses, name)
    raise AttributeError("module 'ppdet_ghm' has no attribute {!r}".format(name))


_install()
