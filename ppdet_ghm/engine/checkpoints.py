"""Checkpoints that a crash cannot truncate.

:func:`atomic_checkpoints` makes PaddleDetection write each checkpoint
file under a temporary name and rename it into place (within the block;
:func:`~ppdet_ghm.engine.train` uses it), so a crash,
a kill or an interrupt during a save never leaves a truncated latest
checkpoint; :func:`latest_checkpoint` finds the newest complete one.  A
save that fails (disk full, read-only folder) raises :class:`OutputError`
naming the file and the cause, with the previous checkpoint intact and no
temporary file left; :func:`check_writable` finds a folder that cannot be
written before training starts.
"""
import glob
import os
import re

from ..compat import ppdet_save_model_wrapped
from ..utils.paths import OutputError

__all__ = ['OutputError', 'check_writable', 'atomic_checkpoints',
           'latest_checkpoint']


def _cause(err):
    return err.strerror or str(err) or type(err).__name__


def check_writable(directory, what='save_dir'):
    """Create ``directory`` if needed and write and remove a probe file in
    it; :class:`OutputError` naming it and the cause if that fails."""
    probe = os.path.join(directory, '.write-test-{}'.format(os.getpid()))
    try:
        os.makedirs(directory, exist_ok=True)
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as err:
        raise OutputError("{}: cannot write to '{}': {}".format(
            what, directory, _cause(err))) from err

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
        except OSError as err:
            raise OutputError(
                "cannot save checkpoint '{}': {}; the previous checkpoints "
                "are unchanged".format(os.path.join(save_dir, save_name),
                                       _cause(err))) from err
        finally:
            for suffix in _SUFFIXES:
                leftover = os.path.join(save_dir, temp + suffix)
                if os.path.exists(leftover):
                    os.remove(leftover)
    return atomic_save_model


def atomic_checkpoints():
    """A context within which PaddleDetection's checkpoint saving
    (``Checkpointer``) writes to temporary files renamed into place; ppdet's
    own ``save_model`` is back after the block."""
    return ppdet_save_model_wrapped(_atomic)


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
