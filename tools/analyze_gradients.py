"""Gradient-norm distribution of a trained detector and how GHM reshapes it.

    python tools/analyze_gradients.py -c CONFIG -o weights=PATH \
        [--num_images 100] [--output_dir output/gradient_analysis]

Runs the model over the first N images of the eval set, assigns anchors as in
training and writes to DIR:

* ``gradient_norms.png``: histograms (log counts) of the classification
  gradient norm ``|sigmoid(x) - t|`` over valid (anchor, class) entries and of
  the regression gradient norm ``|d| / sqrt(d^2 + mu^2)`` over positive
  anchors' coordinates (the paper's Fig. 1);
* ``harmonizing.png``: the per-example gradient after reweighting, as a
  function of the gradient norm, for CE / focal loss (gamma 2) / GHM-C, and as
  a function of |d| for SL1 / ASL1 / GHM-R, on this model's density (Fig. 3);
* ``gradient_norms.json``: all counts, bin edges and curves.

The GHM bins, ``mu`` and weights come from the config's GHMCLoss / GHMRLoss
(the head's own losses when it uses them), through their own methods.
"""
import json
import os
import sys

import numpy as np
from _common import ArgsParser, fail, load_tool_config, trainer_with_weights


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--num_images', type=int, default=100,
                        help='images of the eval set to analyse (first N)')
    parser.add_argument('--output_dir', default='output/gradient_analysis')
    parser.add_argument('--batch_size', type=int, default=2)
    return parser.parse_args(argv)


def ghm_losses(head):
    """The head's GHM losses, or the config's GHMCLoss / GHMRLoss blocks for a
    model trained with other losses (e.g. the FL + SL1 baseline)."""
    from ppdet.core.workspace import create
    from ppdet_ghm.losses import GHMCLoss, GHMRLoss
    loss_cls = head.loss_class if isinstance(head.loss_class, GHMCLoss) \
        else create('GHMCLoss')
    loss_reg = head.loss_bbox if isinstance(head.loss_bbox, GHMRLoss) \
        else create('GHMRLoss')
    return loss_cls, loss_reg


def analysis_loader(cfg, dataset, batch_size):
    """The eval transforms over ``dataset``, ground truth kept per image."""
    from ppdet.data.reader import EvalReader
    from ppdet_ghm.compat import request_ground_truth
    # an eval dataset loads only images by default: ask for the ground truth
    request_ground_truth(dataset)
    reader = cfg['EvalReader']
    return EvalReader(
        sample_transforms=reader.get('sample_transforms', []),
        batch_transforms=reader.get('batch_transforms', []),
        batch_size=batch_size, shuffle=False, drop_last=False,
        num_classes=cfg.num_classes, collate_batch=False)(dataset, 0)


def collect(model, loader, stats, num_images):
    import paddle
    head = model.head
    model.eval()
    with paddle.no_grad():
        for inputs in loader:
            if stats.num_images >= num_images:
                break
            take = num_images - stats.num_images
            if inputs['image'].shape[0] > take:  # last, partial batch
                inputs = {k: v[:take] for k, v in inputs.items()}
            neck_feats = model.neck(model.backbone(inputs))
            logits, deltas, anchors, _ = head.flatten_outputs(head(neck_feats))
            labels, label_weights, box_targets, box_weights = \
                head.get_targets(anchors, inputs)
            stats.update(logits, deltas, labels, label_weights, box_targets,
                         box_weights)



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

def plot(result, path_hist, path_curves):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

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


def main(argv=None):
    args = parse_args(argv)
    if args.num_images < 1:
        fail('--num_images: expected an integer >= 1, got {}'.format(
            args.num_images))
    cfg = load_tool_config(args)
    from ppdet_ghm.analysis import (GradientNormStats, classification_curves,
                                    gradient_shares, regression_curves)
    from ppdet_ghm.modeling import GHMRetinaHead

    trainer = trainer_with_weights(cfg, 'eval')
    head = getattr(trainer.model, 'head', None)
    if not isinstance(head, GHMRetinaHead):
        fail('{}: the analysis needs a RetinaNet with GHMRetinaHead, the '
             'model has head {}'.format(args.config, type(head).__name__))
    loss_cls, loss_reg = ghm_losses(head)
    stats = GradientNormStats(loss_cls, loss_reg)
    loader = analysis_loader(cfg, trainer.dataset, args.batch_size)
    collect(trainer.model, loader, stats, args.num_images)
    if stats.num_images < args.num_images:
        print('note: the eval set has only {} images'.format(stats.num_images),
              file=sys.stderr)

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
    result['config'] = args.config
    result['weights'] = cfg.get('weights')
    os.makedirs(args.output_dir, exist_ok=True)
    paths = [os.path.join(args.output_dir, name) for name in (
        'gradient_norms.json', 'gradient_norms.png', 'harmonizing.png')]
    with open(paths[0], 'w') as f:
        json.dump(result, f, indent=1)
    plot(result, paths[1], paths[2])
    print('analysed {} images: {:,} classification entries, {:,} regression '
          'entries'.format(result['num_images'],
                           result['classification']['num_entries'],
                           result['regression']['num_entries']))
    for row in result['gradient_shares']:
        print('entries with g >= {threshold}: {entries:.4%} of all; their share '
              'of |dL/dx|: CE {ce:.3f}, FL {focal:.3f}, GHM-C {ghm_c:.3f}'.format(**row))
    for path in paths:
        print('wrote', path)


if __name__ == '__main__':
    main()
