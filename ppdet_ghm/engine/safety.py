"""Training that fails clearly and loses nothing.

* :class:`NonFiniteLossGuard` looks at every training iteration's losses
  before the optimizer step: a NaN/inf stops training with the iteration and
  the loss part named (``nonfinite_loss: stop``, the default), or skips that
  step's update (``nonfinite_loss: skip``, at most
  :data:`MAX_CONSECUTIVE_SKIPS` in a row).
* :func:`install_atomic_checkpoints` makes PaddleDetection write each
  checkpoint file under a temporary name and rename it into place, so a
  crash, a kill or an interrupt during a save never leaves a truncated
  latest checkpoint.
* :func:`install_signal_handlers` turns SIGTERM (and SIGINT) into a
  :class:`TrainingInterrupted` exception, so the tool can say where training
  stopped and which checkpoint is the latest.  A signal that arrives while
  Paddle runs Python code of a ``PyLayer`` (GHM-C's backward is one) is
  held until :class:`PendingSignalCheck` sees it at the step's end: Paddle
  would turn an exception raised there into an anonymous ``OSError``.
"""
import glob
import os
import re
import signal

import numpy as np
import paddle
import paddle.distributed as dist
from ppdet.engine.callbacks import Callback

from ..compat import wrap_optimizer_methods, wrap_ppdet_save_model

__all__ = ['NonFiniteLossError', 'NonFiniteLossGuard', 'MAX_CONSECUTIVE_SKIPS',
           'install_atomic_checkpoints', 'TrainingInterrupted',
           'install_signal_handlers', 'latest_checkpoint',
           'PendingSignalCheck', 'raise_pending_interrupt']

#: ``nonfinite_loss: skip`` stops anyway after this many skipped steps in a row
MAX_CONSECUTIVE_SKIPS = 10
ACTIONS = ('stop', 'skip')


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite."""


class NonFiniteLossGuard(Callback):
    """Check every training iteration's losses before the update.

    A forward post-hook on the model reads the loss dict of each training
    forward (one host sync, which PaddleDetection's loss logging makes
    anyway); with several ranks the verdict is all-reduced so that all ranks
    stop or skip together.  Stopping raises :class:`NonFiniteLossError` from
    the forward, i.e. before ``backward`` and the optimizer step, so neither
    the weights in memory nor any checkpoint on disk is touched.  Skipping
    lets backward run and then drops that step's optimizer update
    (``step``/``minimize`` are wrapped); ``clear_grad`` follows as usual,
    and what the forward itself changed -- BatchNorm running statistics, the
    GHM losses' EMA state -- is restored from a copy taken before it.

    Args:
        trainer: PaddleDetection's Trainer (before ``train()``).
        action (str): 'stop' or 'skip'.
    """

    def __init__(self, trainer, action='stop'):
        super().__init__(trainer)
        if action not in ACTIONS:
            raise ValueError("nonfinite_loss: expected one of {}, got {!r}"
                             .format(', '.join(ACTIONS), action))
        self.action = action
        self.epoch, self.step, self.steps_per_epoch = 0, 0, 0
        self.skip_update = False
        self.consecutive_skips = 0
        self.skipped = []            # (iteration, message) of skipped steps
        trainer.model.register_forward_post_hook(self._inspect)
        self._state, self._saved = [], []
        if action == 'skip':
            self._wrap_optimizer(trainer.optimizer)
            # what a forward changes besides the weights: BN running
            # statistics, the GHM losses' EMA -- restored on a skipped step
            self._state = [v for v in trainer.model.state_dict().values()
                           if v.stop_gradient]
            trainer.model.register_forward_pre_hook(self._snapshot)

    def on_step_begin(self, status):
        self.epoch = int(status.get('epoch_id', 0))
        self.step = int(status.get('step_id', 0))
        self.steps_per_epoch = int(status.get('steps_per_epoch', 0))

    @property
    def iteration(self):
        """0-based global iteration of the current step."""
        return self.epoch * self.steps_per_epoch + self.step

    def describe(self, values):
        """``iteration I (epoch E, step S): non-finite loss part(s) ...``"""
        parts = ['{} = {}'.format(k, v) for k, v in sorted(values.items())
                 if k != 'loss' and not np.isfinite(v)]
        total = values.get('loss')
        return 'iteration {} (epoch {}, step {}): non-finite loss part(s) {}{}'\
            .format(self.iteration, self.epoch, self.step,
                    ', '.join(parts) or '(none: only the total)',
                    '' if total is None else '; total loss = {}'.format(total))

    def _snapshot(self, layer, inputs):
        if layer.training:
            self._saved = [v.clone() for v in self._state]

    def _restore(self):
        for value, saved in zip(self._state, self._saved):
            paddle.assign(saved, output=value)

    def _inspect(self, layer, inputs, outputs):
        if not (layer.training and isinstance(outputs, dict)):
            return None
        names = sorted(k for k, v in outputs.items() if k.startswith('loss')
                       and isinstance(v, paddle.Tensor))
        if not names:
            return None
        with paddle.no_grad():
            values = paddle.stack([outputs[k].astype('float32').reshape([])
                                   for k in names])
            bad = (~paddle.isfinite(values)).any().astype('int32')
            if dist.get_world_size() > 1:
                dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        if not int(bad):
            self.consecutive_skips = 0
            return None
        values = dict(zip(names, values.numpy().tolist()))
        message = self.describe(values) if not all(
            np.isfinite(v) for v in values.values()) else \
            'iteration {} (epoch {}, step {}): a non-finite loss on another ' \
            'rank'.format(self.iteration, self.epoch, self.step)
        if self.action == 'stop':
            raise NonFiniteLossError(
                message + '; training stopped before this step\'s update '
                '(nonfinite_loss: skip would skip such steps instead)')
        self.consecutive_skips += 1
        self.skipped.append((self.iteration, message))
        if self.consecutive_skips > MAX_CONSECUTIVE_SKIPS:
            raise NonFiniteLossError(
                message + '; {} consecutive steps had a non-finite loss, '
                'training stopped'.format(self.consecutive_skips))
        print('warning: {}; skipping this step\'s update'.format(message),
              flush=True)
        self.skip_update = True  # restored after backward, in the step
        return None

    def _wrap_optimizer(self, optimizer):
        def wrapper(original):
            def guarded(*args, **kwargs):
                if self.skip_update:
                    self.skip_update = False
                    with paddle.no_grad():  # backward has used them now
                        self._restore()
                    return None
                return original(*args, **kwargs)
            return guarded
        wrap_optimizer_methods(optimizer, wrapper)


# ------------------------------------------------------------ checkpoints ----
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


# ---------------------------------------------------------------- signals ----
class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by a signal."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


# Signals held while Paddle's C++ code is calling back into Python.
_PENDING = []
_PYLAYER_FILE = os.path.join('paddle', 'autograd', 'py_layer.py')


def _inside_pylayer(frame):
    """True when ``frame`` runs (indirectly) inside a PyLayer's forward or
    backward, which Paddle calls from C++: an exception raised there reaches
    the caller as ``OSError`` with the Python error only in its text."""
    while frame is not None:
        if frame.f_code.co_filename.endswith(_PYLAYER_FILE):
            return True
        frame = frame.f_back
    return False


def raise_pending_interrupt():
    """Raise :class:`TrainingInterrupted` for a signal that was held."""
    if _PENDING:
        raise TrainingInterrupted(_PENDING.pop(0))


class PendingSignalCheck(Callback):
    """Raise a held signal at the next step boundary (see the module doc)."""

    def on_step_begin(self, status):
        raise_pending_interrupt()

    def on_step_end(self, status):
        raise_pending_interrupt()


def install_signal_handlers(signals=(signal.SIGTERM, signal.SIGINT)):
    """Raise :class:`TrainingInterrupted` in the main thread on ``signals``
    (a checkpoint being written is then abandoned, never left truncated:
    see :func:`install_atomic_checkpoints`).  Inside a PyLayer the first
    signal is held for :func:`raise_pending_interrupt`; a second one raises
    at once."""
    del _PENDING[:]

    def handler(signum, frame):
        if not _PENDING and _inside_pylayer(frame):
            _PENDING.append(signum)
            return
        del _PENDING[:]
        raise TrainingInterrupted(signum)
    for signum in signals:
        signal.signal(signum, handler)
