"""The gradient-norm report of a trained detector (``tools/analyze_gradients.py``):
run the model over the first images of the eval set, assign anchors as in
training, accumulate :class:`~.gradient_norms.GradientNormStats` and draw the
paper's Fig. 1 (histograms) and Fig. 3 (reweighting curves).

The GHM bins, ``mu`` and weights come from the config's GHMCLoss / GHMRLoss
(the head's own losses when it uses them), through their own methods.

:func:`gradient_report` returns the whole result as a JSON-ready dict;
:func:`write_gradient_report` writes it with its two figures (matplotlib is
imported only there) and :func:`format_gradient_summary` gives the lines the
tool prints.
"""
import json
import os

import numpy as np

from ..utils import ConfigError
from ._plotting import pyplot
from .gradient_norms import (GradientNormStats, classification_curves,
                             gradient_shares, regression_curves)

__all__ = ['REPORT_FILES', 'ghm_losses', 'analysis_loader',
           'collect_gradient_norms', 'gradient_report', 'plot_gradient_report',
           'write_gradient_report', 'format_gradient_summary']

# what write_gradient_report writes: the JSON, Fig. 1, Fig. 3
REPORT_FILES = ('gradient_norms.json', 'gradient_norms.png', 'harmonizing.png')


def ghm_losses(head):
    """The head's GHM losses, or the config's GHMCLoss / GHMRLoss blocks for a
    model trained with other losses (e.g. the FL + SL1 baseline).

    Returns:
        (GHMCLoss, GHMRLoss)
    """
    from ppdet.core.workspace import create

    from ..losses import GHMCLoss, GHMRLoss
    loss_cls = head.loss_class if isinstance(head.loss_class, GHMCLoss) \
        else create('GHMCLoss')
    loss_reg = head.loss_bbox if isinstance(head.loss_bbox, GHMRLoss) \
        else create('GHMRLoss')
    return loss_cls, loss_reg


def analysis_loader(cfg, dataset, batch_size):
    """The config's eval transforms over ``dataset`` in order, ground truth
    kept per image (``gt_bbox``, ``gt_class``; batches not collated)."""
    from ppdet.data.reader import EvalReader

    from ..compat import request_ground_truth
    # an eval dataset loads only images by default: ask for the ground truth
    request_ground_truth(dataset)
    reader = cfg['EvalReader']
    return EvalReader(
        sample_transforms=reader.get('sample_transforms', []),
        batch_transforms=reader.get('batch_transforms', []),
        batch_size=batch_size, shuffle=False, drop_last=False,
        num_classes=cfg.num_classes, collate_batch=False)(dataset, 0)


def collect_gradient_norms(model, loader, stats, num_images):
    """Add the head outputs of the first ``num_images`` images of ``loader``
    to ``stats`` (a :class:`GradientNormStats`), with the training-time
    targets of :meth:`GHMRetinaHead.get_targets`; the model is put in eval
    mode, no gradient is computed."""
    import paddle

    from ..modeling import neck_features
    head = model.head
    model.eval()
    with paddle.no_grad():
        for inputs in loader:
            if stats.num_images >= num_images:
                break
            take = num_images - stats.num_images
            if inputs['image'].shape[0] > take:  # last, partial batch
                inputs = {k: v[:take] for k, v in inputs.items()}
            logits, deltas, anchors = head.level_outputs(
                head(neck_features(model, inputs)))
            logits, deltas = (paddle.concat(logits, axis=1),
                              paddle.concat(deltas, axis=1))
            anchors = paddle.concat(anchors)
            labels, label_weights, box_targets, box_weights = \
                head.get_targets(anchors, inputs)
            stats.update(logits, deltas, labels, label_weights, box_targets,
                         box_weights)


def gradient_report(trainer, cfg, num_images, batch_size=2):
    """Gradient-norm statistics of ``trainer.model`` over the first
    ``num_images`` images of ``trainer.dataset`` (fewer if the set is
    smaller: see ``num_images`` in the result).

    Args:
        trainer (ppdet.engine.Trainer): in ``'eval'`` mode, weights loaded.
        cfg (AttrDict): the loaded config (``EvalReader``, ``num_classes``,
            ``weights``, ``_config_path``).
        num_images (int): images to analyse, >= 1.
        batch_size (int): images per forward pass.

    Returns:
        dict: :meth:`GradientNormStats.to_dict` plus ``curves``
        (``classification``: :func:`classification_curves`;
        ``regression``: :func:`regression_curves` and ``sl1_beta``),
        ``gradient_shares`` (:func:`gradient_shares`), ``config`` and
        ``weights``.

    Raises:
        ConfigError: the model is not a RetinaNet with GHMRetinaHead.
    """
    from ..modeling import GHMRetinaHead
    config = cfg.get('_config_path', 'config')
    head = getattr(trainer.model, 'head', None)
    if not isinstance(head, GHMRetinaHead):
        raise ConfigError('{}: the analysis needs a RetinaNet with '
                          'GHMRetinaHead, the model has head {}'.format(
                              config, type(head).__name__))
    loss_cls, loss_reg = ghm_losses(head)
    stats = GradientNormStats(loss_cls, loss_reg)
    from ..engine import reader_errors_raised
    with reader_errors_raised():       # a broken image raises, naming it
        loader = analysis_loader(cfg, trainer.dataset, batch_size)
        collect_gradient_norms(trainer.model, loader, stats, num_images)

    result = stats.to_dict()
    sl1_beta = getattr(head.loss_bbox, 'beta', 0.11)
    result['curves'] = {
        'classification': classification_curves(
            loss_cls, result['classification']['ghm_counts']),
        'regression': dict(regression_curves(
            loss_reg, result['regression']['ghm_counts'], sl1_beta=sl1_beta),
            sl1_beta=sl1_beta),
    }
    result['gradient_shares'] = gradient_shares(result['classification'])
    result['config'] = config
    result['weights'] = cfg.get('weights')
    return result


def _plot_curves(ax, x, curves, series, xlabel, task):
    """Reweighted gradient norm against ``x`` for each ``(key, label)``."""
    for key, label in series:
        y = np.asarray(curves[key], np.float64)
        # GHM weighs nothing in an empty bin: leave a gap, not log(0)
        ax.plot(x, np.where(y > 0, y, np.nan), label=label)
    ax.set_yscale('log')
    ax.set_xlabel(xlabel)
    ax.set_ylabel('reweighted gradient norm (log)')
    ax.set_title('{}, on this model\'s density'.format(task), fontsize=10)
    ax.legend()


def plot_gradient_report(result, path_hist, path_curves):
    """Draw a :func:`gradient_report` result: the gradient-norm histograms
    (log counts) as the PNG ``path_hist`` and the reweighting curves (CE /
    FL / GHM-C, SL1 / ASL1 / GHM-R) as the PNG ``path_curves``."""
    plt = pyplot()
    cls_, reg = result['classification'], result['regression']
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, part, title in (
            (axes[0], cls_, 'classification: |sigmoid(x) - t|'),
            (axes[1], reg, 'regression: |d| / sqrt(d² + mu²), mu={}'.format(
                reg['mu']))):
        edges = np.asarray(part['fine_edges'])
        counts = np.asarray(part['fine_counts'], np.float64)
        ax.bar(edges[:-1], np.where(counts > 0, counts, np.nan),
               width=np.diff(edges), align='edge', color='tab:blue')
        ax.set_yscale('log')
        ax.set_xlim(0, 1)
        ax.set_xlabel('gradient norm')
        ax.set_ylabel('number of examples (log)')
        ax.set_title('{}\n{:,} entries, {} images'.format(
            title, part['num_entries'], result['num_images']), fontsize=10)
    fig.tight_layout()
    fig.savefig(path_hist, dpi=100)
    plt.close(fig)

    curves_c, curves_r = result['curves']['classification'], \
        result['curves']['regression']
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    _plot_curves(axes[0], curves_c['g'], curves_c,
                 (('ce', 'CE'), ('focal', 'FL (gamma 2)'), ('ghm_c', 'GHM-C')),
                 'original gradient norm g', 'classification')
    _plot_curves(axes[1], curves_r['abs_delta'], curves_r,
                 (('sl1', 'SL1 (beta {})'.format(curves_r['sl1_beta'])),
                  ('asl1', 'ASL1 (mu {})'.format(reg['mu'])),
                  ('ghm_r', 'GHM-R')),
                 '|d|', 'regression')
    fig.tight_layout()
    fig.savefig(path_curves, dpi=100)
    plt.close(fig)


def write_gradient_report(result, output_dir):
    """Write ``result`` as ``output_dir``/:data:`REPORT_FILES` (the JSON and
    the two figures of :func:`plot_gradient_report`), creating the
    directory; returns the three paths."""
    os.makedirs(output_dir, exist_ok=True)
    paths = [os.path.join(output_dir, name) for name in REPORT_FILES]
    with open(paths[0], 'w') as f:
        json.dump(result, f, indent=1)
    plot_gradient_report(result, paths[1], paths[2])
    return paths


def format_gradient_summary(result):
    """The report in a few lines: entries analysed, then per threshold the
    hard entries' share of the classification gradient under CE, FL, GHM-C."""
    lines = ['analysed {} images: {:,} classification entries, {:,} regression '
             'entries'.format(result['num_images'],
                              result['classification']['num_entries'],
                              result['regression']['num_entries'])]
    for row in result['gradient_shares']:
        lines.append('entries with g >= {threshold}: {entries:.4%} of all; their '
                     'share of |dL/dx|: CE {ce:.3f}, FL {focal:.3f}, GHM-C '
                     '{ghm_c:.3f}'.format(**row))
    return '\n'.join(lines)
