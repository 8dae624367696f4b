"""The loss micro-benchmark's contenders and timing: GHM-C / GHM-R of
``ppdet_ghm`` against PaddleDetection's ``FocalLoss`` / ``SmoothL1Loss`` (as
PaddleDetection's RetinaHead calls them) and a per-bin-loop GHM-C written the
straightforward way, all forward + backward on the same tensors in one
process."""
import os
import platform
import time

import numpy as np
import paddle
import paddle.nn.functional as F
from ppdet.modeling.losses import FocalLoss, SmoothL1Loss

import ppdet_ghm

# Table rows: (contender, the PaddleDetection loss it is compared with).
ROWS = [('GHM-C (ppdet_ghm)', 'FocalLoss (ppdet)'),
        ('FocalLoss (ppdet)', 'FocalLoss (ppdet)'),
        ('GHM-C per-bin loop', 'FocalLoss (ppdet)'),
        ('GHM-R (ppdet_ghm)', 'SmoothL1Loss (ppdet)'),
        ('SmoothL1Loss (ppdet)', 'SmoothL1Loss (ppdet)')]


def per_bin_loop_ghmc(pred, labels, label_weight, acc_sum, bins, momentum):
    """The straightforward GHM-C: one-hot targets and a Python loop over bins
    with a boolean mask per bin, as the reference implementation is written
    (a contender, deliberately not ``ppdet_ghm``'s code).
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
    """Logits, labels (``num_classes`` = background), label weights (0 =
    ignored, ~5%) and the number of positives (~1%)."""
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


def measure(anchors, classes, repeats, skip_loop=False):
    """Time every contender (on the current Paddle device).

    Returns:
        dict: ``seconds`` (contender -> median s), ``positives``,
        ``ignored``.
    """
    logits, labels, label_weight, num_pos = make_cls_inputs(
        anchors, classes, seed=0)
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
    results['GHM-C (ppdet_ghm)'] = time_fwd_bwd(ghmc, cls_inputs, repeats)
    results['FocalLoss (ppdet)'] = time_fwd_bwd(run_focal, cls_inputs, repeats)
    if not skip_loop:
        results['GHM-C per-bin loop'] = time_fwd_bwd(
            lambda p, l, w: per_bin_loop_ghmc(p, l, w, acc_sum, 30, 0.75),
            cls_inputs, max(1, repeats // 2))

    rng = np.random.default_rng(1)
    deltas = rng.normal(0, 0.5, (num_pos, 4)).astype('float32')
    targets = rng.normal(0, 0.5, (num_pos, 4)).astype('float32')
    box_weight = np.ones((num_pos, 4), dtype='float32')
    ghmr = ppdet_ghm.GHMRLoss(mu=0.02, bins=10, momentum=0.7)
    sl1 = SmoothL1Loss(beta=0.11)
    reg_repeats = max(repeats, 20)
    results['GHM-R (ppdet_ghm)'] = time_fwd_bwd(
        ghmr, (deltas, targets, box_weight), reg_repeats)
    results['SmoothL1Loss (ppdet)'] = time_fwd_bwd(
        lambda p, t, w: sl1(p, t, reduction='sum') / max(num_pos, 1),
        (deltas, targets, box_weight), reg_repeats)
    return {'seconds': results, 'positives': num_pos,
            'ignored': int((label_weight == 0).sum())}


def machine_line(device):
    """CPU, cores, paddle version and device."""
    return '{} ({} cores), paddle {} {}'.format(
        platform.processor() or platform.machine(), os.cpu_count(),
        paddle.__version__, device)


def format_report(measured, anchors, classes, machine):
    """The input line, the table (median s, ratio to the PaddleDetection
    loss) and the speed-up over the per-bin loop."""
    results = measured['seconds']
    lines = ['input: {} anchors x {} classes, {} positives, {} ignored; {}'
             .format(anchors, classes, measured['positives'],
                     measured['ignored'], machine),
             '| loss (forward + backward) | median s | vs ppdet |',
             '|---|---:|---:|']
    for name, base in ROWS:
        if name in results:
            lines.append('| {} | {:.4f} | {:.2f}x |'.format(
                name, results[name], results[name] / results[base]))
    if 'GHM-C per-bin loop' in results:
        lines.append('GHM-C speed-up over the per-bin loop: {:.1f}x'.format(
            results['GHM-C per-bin loop'] / results['GHM-C (ppdet_ghm)']))
    return lines
