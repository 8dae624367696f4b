"""Forward+backward time of GHM-C / GHM-R against PaddleDetection's losses.

All contenders run in one process on the same tensors, so the ratios are
side-by-side measurements.  Default input: 400,000 anchors x 80 classes (two
800x1333 images' worth of RetinaNet anchors), ~1% positive, ~5% ignored.

    python tools/benchmark_losses.py [--anchors 400000] [--repeats 5]
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import paddle
import paddle.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import ppdet_ghm  # noqa: E402
from ppdet.modeling.losses import FocalLoss, SmoothL1Loss  # noqa: E402


def per_bin_loop_ghmc(pred, labels, label_weight, acc_sum, bins, momentum):
    """The straightforward GHM-C: one-hot targets and a Python loop over bins
    with a boolean mask per bin, as the reference implementation is written.
    Returns the 'mean' loss; updates ``acc_sum`` (a numpy array) in place."""
    num_classes = pred.shape[1]
    target = F.one_hot(labels, num_classes + 1)[:, :num_classes]
    weight = label_weight.unsqueeze(1).expand(pred.shape)
    edges = (np.arange(bins + 1, dtype=np.float32) / bins).tolist()
    edges[-1] += 1e-6
    g = (F.sigmoid(pred.detach()) - target).abs()
    valid = weight > 0
    tot = max(float(valid.astype('float32').sum()), 1.0)
    weights = paddle.zeros_like(pred)
    n = 0
    for i in range(bins):
        inds = (g >= edges[i]) & (g < edges[i + 1]) & valid
        num_in_bin = float(inds.astype('float32').sum())
        if num_in_bin > 0:
            if momentum > 0:
                acc_sum[i] = momentum * acc_sum[i] + (1 - momentum) * num_in_bin
                weights = paddle.where(inds, paddle.full([], tot / acc_sum[i]), weights)
            else:
                weights = paddle.where(inds, paddle.full([], tot / num_in_bin), weights)
            n += 1
    if n > 0:
        weights = weights / n
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none')
    return (loss * weights).sum() / tot


def make_cls_inputs(num_anchors, num_classes, seed):
    rng = np.random.default_rng(seed)
    # Logits of a detector part-way through training: mostly confident
    # negatives, a spread of harder ones.
    logits = rng.normal(-4.0, 2.0, (num_anchors, num_classes)).astype('float32')
    labels = np.full(num_anchors, num_classes, dtype='int64')
    pos = rng.random(num_anchors) < 0.01
    labels[pos] = rng.integers(0, num_classes, pos.sum())
    label_weight = (rng.random(num_anchors) >= 0.05).astype('float32')
    label_weight[pos] = 1.0
    return logits, labels, label_weight, int(pos.sum())


def time_fwd_bwd(fn, inputs, repeats, warmup=1):
    """Median seconds of ``fn(*inputs).backward()`` over ``repeats`` runs."""
    times = []
    for i in range(warmup + repeats):
        leaf = paddle.to_tensor(inputs[0], stop_gradient=False)
        args = [leaf] + [paddle.to_tensor(a) for a in inputs[1:]]
        start = time.perf_counter()
        loss = fn(*args)
        loss.backward()
        float(loss)  # wait for the result (matters on GPU)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--anchors', type=int, default=400000)
    parser.add_argument('--classes', type=int, default=80)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--skip_loop', action='store_true',
                        help='skip the slow per-bin-loop GHM-C')
    parser.add_argument('--output', default=None,
                        help='also write the results as JSON to this path')
    args = parser.parse_args()
    paddle.set_device(args.device)

    logits, labels, label_weight, num_pos = make_cls_inputs(
        args.anchors, args.classes, seed=0)
    ghmc = ppdet_ghm.GHMCLoss(bins=30, momentum=0.75)
    focal = FocalLoss(alpha=0.25, gamma=2.0)
    acc_sum = np.zeros(30, dtype=np.float32)

    def run_focal(pred, lab, lw):
        # As PaddleDetection's RetinaHead: ignored anchors removed, sum / num_pos.
        keep = paddle.nonzero(lw > 0).flatten()
        return focal(paddle.gather(pred, keep), paddle.gather(lab, keep),
                     reduction='sum') / max(num_pos, 1)

    results = {}
    cls_inputs = (logits, labels, label_weight)
    results['GHM-C (ppdet_ghm)'] = time_fwd_bwd(ghmc, cls_inputs, args.repeats)
    results['FocalLoss (ppdet)'] = time_fwd_bwd(run_focal, cls_inputs, args.repeats)
    if not args.skip_loop:
        results['GHM-C per-bin loop'] = time_fwd_bwd(
            lambda p, l, w: per_bin_loop_ghmc(p, l, w, acc_sum, 30, 0.75),
            cls_inputs, max(1, args.repeats // 2))

    rng = np.random.default_rng(1)
    deltas = rng.normal(0, 0.5, (num_pos, 4)).astype('float32')
    targets = rng.normal(0, 0.5, (num_pos, 4)).astype('float32')
    box_weight = np.ones((num_pos, 4), dtype='float32')
    ghmr = ppdet_ghm.GHMRLoss(mu=0.02, bins=10, momentum=0.7)
    sl1 = SmoothL1Loss(beta=0.11)
    reg_repeats = max(args.repeats, 20)
    results['GHM-R (ppdet_ghm)'] = time_fwd_bwd(
        ghmr, (deltas, targets, box_weight), reg_repeats)
    results['SmoothL1Loss (ppdet)'] = time_fwd_bwd(
        lambda p, t, w: sl1(p, t, reduction='sum') / max(num_pos, 1),
        (deltas, targets, box_weight), reg_repeats)

    machine = '{} ({} cores), paddle {} {}'.format(
        platform.processor() or platform.machine(), os.cpu_count(),
        paddle.__version__, args.device)
    print('input: {} anchors x {} classes, {} positives, {} ignored; {}'.format(
        args.anchors, args.classes, num_pos,
        int((label_weight == 0).sum()), machine))
    print('| loss (forward + backward) | median s | vs ppdet |')
    print('|---|---:|---:|')
    rows = [('GHM-C (ppdet_ghm)', 'FocalLoss (ppdet)'),
            ('FocalLoss (ppdet)', 'FocalLoss (ppdet)'),
            ('GHM-C per-bin loop', 'FocalLoss (ppdet)'),
            ('GHM-R (ppdet_ghm)', 'SmoothL1Loss (ppdet)'),
            ('SmoothL1Loss (ppdet)', 'SmoothL1Loss (ppdet)')]
    for name, base in rows:
        if name in results:
            print('| {} | {:.4f} | {:.2f}x |'.format(
                name, results[name], results[name] / results[base]))
    if 'GHM-C per-bin loop' in results:
        print('GHM-C speed-up over the per-bin loop: {:.1f}x'.format(
            results['GHM-C per-bin loop'] / results['GHM-C (ppdet_ghm)']))
    if args.output:
        with open(args.output, 'w') as f:
            json.dump({'machine': machine, 'anchors': args.anchors,
                       'classes': args.classes, 'seconds': results}, f, indent=1)


if __name__ == '__main__':
    main()
