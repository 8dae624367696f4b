"""A NaN/inf loss fails clearly instead of reaching the optimizer.

:class:`NonFiniteLossGuard` looks at every training iteration's losses
before the optimizer step: a NaN/inf stops training with the iteration and
the loss part named (``nonfinite_loss: stop``, the default), or skips that
step's update (``nonfinite_loss: skip``, at most :data:`MAX_CONSECUTIVE_SKIPS`
in a row).
"""
import numpy as np
import paddle
import paddle.distributed as dist
from ppdet.engine.callbacks import Callback

from ..compat import wrap_optimizer_methods

__all__ = ['NonFiniteLossError', 'NonFiniteLossGuard', 'MAX_CONSECUTIVE_SKIPS']

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
