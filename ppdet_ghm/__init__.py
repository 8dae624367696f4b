"""GHM (Gradient Harmonized single-stage detector) for PaddleDetection.

Importing this package registers its modules in ``ppdet.core.workspace`` so
that PaddleDetection yml configs can name them: ``GHMCLoss``, ``GHMRLoss``,
``GHMRetinaHead``, ``GHMRetinaAnchorGenerator``, ``GHMRetinaAssigner``,
``GHMRetinaPostProcess``.
"""
from . import compat
from . import losses  # noqa: F401  (registers the losses)
from . import modeling  # noqa: F401  (registers head, anchors, assigner, post-process)
from .losses import GHMCLoss, GHMRLoss

__version__ = '0.1.0'
compat.check_versions()  # a warning per library outside the verified versions
__all__ = ['GHMCLoss', 'GHMRLoss']
