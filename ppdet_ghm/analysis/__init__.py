"""Analyses of a detector and its training: gradient-norm statistics and the
GHM reweighting curves (``gradient_norms``, ``gradient_report``), per-level
gradients over training steps (``level_gradients``, ``learning_probe``), the
memorization check (``memorization``), detection-error types
(``detection_errors``), training logs (``training_logs``) and detections
drawn on images (``drawing``).

Import from the modules: the package imports none of them, so that
``ppdet_ghm.analysis.training_logs`` (or ``.detection_errors``,
``.drawing``) does not import paddle through the modules that need it.
"""
