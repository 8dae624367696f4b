"""What a trained GHM detector and its training look like: gradient-norm
statistics and the GHM reweighting curves of the paper's figures
(``gradient_norms``, ``gradient_report``), loss and box-AP curves of runs
from their records (``curves``) and detections drawn on images
(``drawing``).

Import from the modules: the package imports none of them, so that
``ppdet_ghm.analysis.curves`` (or ``.drawing``) does not import paddle
through the modules that need it.
"""
