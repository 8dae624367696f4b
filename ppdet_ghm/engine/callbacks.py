"""Training callbacks for PaddleDetection's Trainer."""
import hashlib
import json
import os

import numpy as np
import paddle.distributed as dist
from ppdet.engine.callbacks import Callback

from .checkpoints import OutputError

__all__ = ['RankLossLogger', 'parameter_digest']


def parameter_digest(model):
    """SHA-1 over every trainable parameter (sorted by name): equal digests
    mean bit-identical weights.  Left out: BatchNorm running statistics
    (non-trainable parameters in Paddle) and buffers such as a GHM loss's
    EMA, which are per-rank by design (see ``sync_across_ranks``)."""
    sha = hashlib.sha1()
    for name, value in sorted(model.named_parameters()):
        if value.stop_gradient:
            continue
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(value.numpy()).tobytes())
    return sha.hexdigest()


class RankLossLogger(Callback):
    """Per-rank record of training.

    PaddleDetection logs the (window-smoothed) losses of rank 0 only.  This
    writes every rank's raw losses of every iteration to
    ``<save_dir>/<config>/loss_rank<r>.jsonl`` (appended, so a resumed run
    continues the file), logs them on ranks > 0 every ``log_iter`` steps, and
    at the end logs each rank's :func:`parameter_digest`.
    """

    def __init__(self, trainer):
        super().__init__(trainer)
        cfg = trainer.cfg
        self.rank = dist.get_rank()
        self.log_iter = cfg.get('log_iter', 20)
        name = os.path.splitext(os.path.basename(cfg.filename))[0]
        directory = os.path.join(cfg.get('save_dir', 'output'), name)
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise OutputError("cannot create the folder of the loss log '{}': "
                              "{}".format(directory, err.strerror or err)) from err
        self.path = os.path.join(directory, 'loss_rank{}.jsonl'.format(self.rank))
        # The trainer keeps the step's losses on rank 0 only: take them from
        # the model's output on every rank.
        self._losses = {}
        trainer.model.register_forward_post_hook(self._capture)

    def _capture(self, layer, inputs, outputs):
        if layer.training and isinstance(outputs, dict):
            self._losses = {k: v for k, v in outputs.items()
                            if k.startswith('loss')}

    def on_step_end(self, status):
        if status.get('mode') != 'train':
            return
        record = {'rank': self.rank, 'epoch': int(status['epoch_id']),
                  'step': int(status['step_id']),
                  'lr': float(status['learning_rate'])}
        record.update({k: float(v) for k, v in self._losses.items()})
        try:
            with open(self.path, 'a') as f:
                f.write(json.dumps(record, sort_keys=True) + '\n')
        except OSError as err:
            raise OutputError("cannot append to the loss log '{}': {}".format(
                self.path, err.strerror or err)) from err
        if self.rank > 0 and record['step'] % self.log_iter == 0:
            # print, not ppdet's logger: that one is silent on ranks > 0
            print('rank {} epoch {} step {}: {}'.format(
                self.rank, record['epoch'], record['step'], ' '.join(
                    '{}: {:.6f}'.format(k, v) for k, v in sorted(record.items())
                    if k.startswith('loss'))), flush=True)

    def on_train_end(self, status):
        print('rank {} parameter digest: {}'.format(
            self.rank, parameter_digest(self.model.model)), flush=True)
