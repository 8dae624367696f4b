"""Train a few steps exactly as PaddleDetection's Trainer does and record, at
chosen steps, what each loss would send to the positives (per FPN level).

The update is the Trainer's own: its model, optimizer (with the config's
gradient clipping), learning-rate schedule stepped every iteration and its
train loader.  At a probe step the batch is first run through the model once
more without gradient (train mode, as the update sees it; BatchNorm's
running statistics take that batch once more) and handed to
:func:`level_gradient_stats` for every probe; then the normal update follows.
Used by ``tools/analyze_learning.py``; the numbers are in docs/learning.md.
"""
import numpy as np
import paddle

from ppdet_ghm.losses import GHMCLoss, GHMRLoss
from ppdet_ghm.modeling import neck_features
from research.level_gradients import level_gradient_stats, pre_clip_gradient_norm

__all__ = ['default_probes', 'probe_training', 'format_probe']


def default_probes(head):
    """The comparisons of docs/learning.md, on the head's own convention.

    Returns:
        list of ``(name, per_level, class_losses, box_losses)``.
    """
    from ppdet.modeling.losses import FocalLoss, SmoothL1Loss
    cls_ref = {'focal': FocalLoss(alpha=0.25, gamma=2.0),
               'ghm_c m=0': GHMCLoss(bins=30, momentum=0.0)}
    if isinstance(head.loss_class, GHMCLoss):
        # the training loss itself, with its EMA state as training left it
        cls_ref['ghm_c (training EMA)'] = head.loss_class
    box_ref = {'smooth_l1': SmoothL1Loss(beta=0.11),
               'ghm_r mu=0.02 m=0': GHMRLoss(mu=0.02, bins=10, momentum=0.0),
               'ghm_r mu=0.2 m=0': GHMRLoss(mu=0.2, bins=10, momentum=0.0)}
    return [('per level', True, cls_ref, box_ref),
            ('all levels', False,
             {'ghm_c m=0': GHMCLoss(bins=30, momentum=0.0)}, {})]


def _forward_outputs(model, data):
    with paddle.no_grad():
        return model.head.predict(neck_features(model, data))


def probe_training(trainer, steps, probe_steps, probes=None):
    """Train ``steps`` iterations; probe before the update at ``probe_steps``.

    Args:
        trainer (ppdet.engine.Trainer): built in 'train' mode.
        steps (int): iterations to train (>= 0).
        probe_steps (iterable[int]): iterations to probe (0 = before any
            update; ``steps`` = after the last one).
        probes: list as :func:`default_probes` returns (its default).

    Returns:
        dict: ``loss``, ``loss_cls``, ``loss_bbox``, ``grad_norm`` (before
        clipping) and ``lr`` per trained step; ``probes``: {step: {probe
        name: level_gradient_stats(...)}}; the config's
        ``clip_grad_by_norm``.
    """
    model, optimizer = trainer.model, trainer.optimizer
    head = model.head
    probes = default_probes(head) if probes is None else probes
    probe_steps = sorted(set(int(s) for s in probe_steps))
    record = {'loss': [], 'loss_cls': [], 'loss_bbox': [], 'grad_norm': [],
              'lr': [], 'probes': {},
              'clip_grad_by_norm': trainer.cfg.get('OptimizerBuilder', {}).get(
                  'clip_grad_by_norm')}
    step = 0
    model.train()
    while step <= steps:
        for data in trainer.loader:
            if step in probe_steps:
                outputs = _forward_outputs(model, data)
                record['probes'][step] = {
                    name: level_gradient_stats(head, outputs, data, cls, box,
                                               per_level=per_level)
                    for name, per_level, cls, box in probes}
            if step == steps:
                return record
            losses = model(data)
            losses['loss'].backward()
            record['grad_norm'].append(
                pre_clip_gradient_norm(model.parameters()))
            optimizer.step()
            record['lr'].append(float(optimizer.get_lr()))
            optimizer.clear_grad()
            trainer.lr.step()
            for key in ('loss', 'loss_cls', 'loss_bbox'):
                record[key].append(float(losses[key]))
            step += 1
    return record


def format_probe(record):
    """Plain-text tables of a :func:`probe_training` record."""
    lines = []
    grad_norm = np.asarray(record['grad_norm'])
    if grad_norm.size:
        clip = record.get('clip_grad_by_norm')
        lines.append('pre-clip gradient norm: first {:.3g}, median {:.3g}, '
                     'last {:.3g}{}'.format(
                         grad_norm[0], np.median(grad_norm), grad_norm[-1],
                         '; {} of {} steps clipped at {:g}'.format(
                             int((grad_norm > clip).sum()), grad_norm.size,
                             clip) if clip else ''))
    for step, by_probe in sorted(record['probes'].items()):
        for probe, stats in by_probe.items():
            lines.append('step {} ({}): positives {}'.format(
                step, probe, dict(zip(stats['levels'], stats['num_pos']))))
            lines.append('  {:<22} {:<16}'.format('loss', 'statistic') + ''.join(
                ' {:>9}'.format(level) for level in stats['levels']))
            for name, values in stats.items():
                if not isinstance(values, dict):
                    continue
                rows = [('|dL/dx| per pos.' if 'neg_grad_sum' in values
                         else '|dL/dd| per pos.', values['pos_grad_mean'])]
                if 'neg_grad_sum' in values:
                    rows.append(('positives\' share', [
                        p / max(p + n, 1e-30) for p, n in zip(
                            values['pos_grad_sum'], values['neg_grad_sum'])]))
                if 'other_class_grad_sum' in values:
                    rows.append(('other classes\' share', [
                        o / max(p + n, 1e-30) for o, p, n in zip(
                            values['other_class_grad_sum'],
                            values['pos_grad_sum'], values['neg_grad_sum'])]))
                for label, row in rows:
                    lines.append('  {:<22} {:<16}'.format(name, label) + ''.join(
                        ' {:>9.3g}'.format(v) for v in row))
    return '\n'.join(lines)
