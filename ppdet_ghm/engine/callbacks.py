"""Training callbacks for PaddleDetection's Trainer."""
import hashlib
import json
import os
import time

import numpy as np
import paddle.distributed as dist
from ppdet.engine.callbacks import Callback

from ..compat import current_metric_results
from ..records import EVAL_RECORDS, LOSS_LOG
from .checkpoints import OutputError

__all__ = ['RankLossLogger', 'EvalRecordWriter', 'parameter_digest',
           'ghm_state_digest', 'COCO_STAT_NAMES']

# pycocotools' 12 box statistics, in its order
COCO_STAT_NAMES = ('AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large',
                   'AR1', 'AR10', 'AR100', 'AR_small', 'AR_medium',
                   'AR_large')


def _run_directory(cfg):
    """``<save_dir>/<config name>``, created; where a run's logs go."""
    name = os.path.splitext(os.path.basename(cfg.filename))[0]
    directory = os.path.join(cfg.get('save_dir', 'output'), name)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise OutputError("cannot create the run's log folder '{}': "
                          "{}".format(directory, err.strerror or err)) from err
    return directory


def _append_json_line(path, record, what):
    try:
        with open(path, 'a') as f:
            f.write(json.dumps(record, sort_keys=True) + '\n')
    except OSError as err:
        raise OutputError("cannot append to the {} '{}': {}".format(
            what, path, err.strerror or err)) from err


def _sha1_of(named_arrays):
    """SHA-1 over ``(name, tensor)`` pairs, sorted by name."""
    sha = hashlib.sha1()
    for name, value in sorted(named_arrays, key=lambda pair: pair[0]):
        sha.update(name.encode())
        sha.update(np.ascontiguousarray(value.numpy()).tobytes())
    return sha.hexdigest()


def parameter_digest(model):
    """SHA-1 over every trainable parameter (sorted by name): equal digests
    mean bit-identical weights.  Left out: BatchNorm running statistics
    (non-trainable parameters in Paddle) and buffers such as a GHM loss's
    EMA, which are per-rank by design (see ``sync_across_ranks``)."""
    return _sha1_of((name, value) for name, value in model.named_parameters()
                    if not value.stop_gradient)


def ghm_state_digest(model):
    """SHA-1 over the GHM losses' EMA state (every ``acc_sum`` buffer,
    sorted by name), or None without one: equal on every rank when
    ``sync_across_ranks`` is on."""
    buffers = [(name, value) for name, value in model.named_buffers()
               if name.split('.')[-1] == 'acc_sum']
    return _sha1_of(buffers) if buffers else None


class RankLossLogger(Callback):
    """Per-rank record of training.

    PaddleDetection logs the (window-smoothed) losses of rank 0 only.  This
    writes every rank's raw losses of every iteration to
    ``<save_dir>/<config>/loss_rank<r>.jsonl`` (appended, so a resumed run
    continues the file), logs them on ranks > 0 every ``log_iter`` steps, and
    at the end logs each rank's :func:`parameter_digest` and
    :func:`ghm_state_digest`.  With
    ``log_image_ids: true`` in the config a record also holds ``im_id``, the
    ids of the step's images on that rank (which images each rank saw; one
    small copy to the host a step, hence off by default).
    """

    def __init__(self, trainer):
        super().__init__(trainer)
        cfg = trainer.cfg
        self.rank = dist.get_rank()
        self.log_iter = cfg.get('log_iter', 20)
        self.path = os.path.join(_run_directory(cfg),
                                 LOSS_LOG.format(self.rank))
        # The trainer keeps the step's losses on rank 0 only: take them from
        # the model's output on every rank.
        self._losses = {}
        self._image_ids = None
        self.log_image_ids = bool(cfg.get('log_image_ids', False))
        trainer.model.register_forward_post_hook(self._capture)

    def _capture(self, layer, inputs, outputs):
        if layer.training and isinstance(outputs, dict):
            self._losses = {k: v for k, v in outputs.items()
                            if k.startswith('loss')}
            if self.log_image_ids and inputs and isinstance(inputs[0], dict):
                ids = inputs[0].get('im_id')
                self._image_ids = None if ids is None else [
                    int(i) for i in np.asarray(ids).reshape(-1)]

    def on_step_end(self, status):
        if status.get('mode') != 'train':
            return
        record = {'rank': self.rank, 'epoch': int(status['epoch_id']),
                  'step': int(status['step_id']),
                  'lr': float(status['learning_rate'])}
        record.update({k: float(v) for k, v in self._losses.items()})
        if self.log_image_ids:
            record['im_id'] = self._image_ids
        _append_json_line(self.path, record, 'loss log')
        if self.rank > 0 and record['step'] % self.log_iter == 0:
            # print, not ppdet's logger: that one is silent on ranks > 0
            print('rank {} epoch {} step {}: {}'.format(
                self.rank, record['epoch'], record['step'], ' '.join(
                    '{}: {:.6f}'.format(k, v) for k, v in sorted(record.items())
                    if k.startswith('loss'))), flush=True)

    def on_train_end(self, status):
        model = self.model.model
        print('rank {} parameter digest: {}'.format(
            self.rank, parameter_digest(model)), flush=True)
        state = ghm_state_digest(model)
        if state:
            print('rank {} GHM state digest: {}'.format(self.rank, state), flush=True)


class EvalRecordWriter(Callback):
    """One JSON line per in-training evaluation, written by the process that
    evaluates (rank 0) to ``<save_dir>/<config>/eval_records.jsonl``
    (appended: a resumed run continues the file).

    A record: ``epoch`` (epochs trained), ``iteration`` (optimizer steps),
    ``minutes`` (wall clock from the start of training to the end of this
    evaluation), ``train_minutes`` (the same without the evaluations),
    ``time`` (Unix time), ``bbox`` (:data:`COCO_STAT_NAMES` to values) and
    ``detected_nothing``: when the model detected nothing, pycocotools
    computes no statistic and every value is recorded as 0.0 (what an AP
    of no detections is) with ``detected_nothing: true``.  With ``metric:
    VOC`` ``bbox`` is ``{'mAP': value}`` (PaddleDetection's VOC mAP at IoU
    0.5 with the config's ``map_type``, a fraction).
    """

    def __init__(self, trainer):
        super().__init__(trainer)
        self.path = os.path.join(_run_directory(trainer.cfg), EVAL_RECORDS)
        self._start = self._train_end = None
        self._eval_seconds = 0.0

    def on_train_begin(self, status):
        self._start = time.time()

    def on_epoch_end(self, status):
        mode = status.get('mode')
        if mode == 'train':
            self._train_end = time.time()
            return
        if mode != 'eval' or self._start is None:
            return          # an evaluation outside training
        now = time.time()
        self._eval_seconds += now - (self._train_end or now)
        stats = None
        for results in current_metric_results(self.model):
            stats = stats or results.get('bbox')
        if stats is not None and len(stats) == 1:      # VOC: one mAP
            bbox = {'mAP': float(stats[0])}
        else:
            bbox = dict(zip(COCO_STAT_NAMES, [
                float(v) for v in (stats if stats is not None
                                   else [0.0] * len(COCO_STAT_NAMES))]))
        record = {
            'epoch': int(status['epoch_id']) + 1,
            'iteration': (int(status['epoch_id']) + 1) * int(
                status.get('steps_per_epoch') or 0),
            'minutes': (now - self._start) / 60.0,
            'train_minutes': (now - self._start - self._eval_seconds) / 60.0,
            'time': now,
            'detected_nothing': stats is None,
            'bbox': bbox,
        }
        _append_json_line(self.path, record, 'evaluation records')
