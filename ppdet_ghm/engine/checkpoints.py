"""Checkpoints that a crash cannot truncate.

:func:`install_atomic_checkpoints` makes PaddleDetection write each
checkpoint file under a temporary name and rename it into place, so a crash,
a kill or an interrupt during a save never leaves a truncated latest
checkpoint; :func:`latest_checkpoint` finds the newest complete one.
"""
import glob
import os
import re

from ..compat import wrap_ppdet_save_model

__all__ = ['install_atomic_checkpoints', 'latest_checkpoint']

_SUFFIXES = ('.pdparams', '.pdema', '.pdopt')


def _atomic(save_model):
    def atomic_save_model(model, optimizer, save_dir, save_name, *args,
                          **kwargs):
        """ppdet's ``save_model`` into temporary files, renamed into place
        (optimizer state first, weights last) once all are written."""
        temp = '.tmp-{}-{}'.format(save_name, os.getpid())
        try:
            save_model(model, optimizer, save_dir, temp, *args, **kwargs)
            for suffix in sorted(_SUFFIXES, key=lambda s: s == '.pdparams'):
                src = os.path.join(save_dir, temp + suffix)
                if os.path.exists(src):
                    os.replace(src, os.path.join(save_dir, save_name + suffix))
        finally:
            for suffix in _SUFFIXES:
                leftover = os.path.join(save_dir, temp + suffix)
                if os.path.exists(leftover):
                    os.remove(leftover)
    atomic_save_model.original = save_model
    return atomic_save_model


def install_atomic_checkpoints():
    """Route PaddleDetection's checkpoint saving (``Checkpointer``) through
    write-to-temp-then-rename. Idempotent."""
    wrap_ppdet_save_model(_atomic)


def latest_checkpoint(directory):
    """Path (without suffix) of the newest complete checkpoint in
    ``directory``, or None: ``model_final`` if present, else the highest
    epoch number."""
    if not os.path.isdir(directory):
        return None
    final = os.path.join(directory, 'model_final')
    if os.path.isfile(final + '.pdparams'):
        return final
    epochs = [int(m.group(1)) for m in (
        re.match(r'(\d+)\.pdparams$', os.path.basename(p))
        for p in glob.glob(os.path.join(directory, '*.pdparams'))) if m]
    return os.path.join(directory, str(max(epochs))) if epochs else None
