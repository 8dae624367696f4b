"""What each loss sends to the positives, per FPN level (learning diagnosis).

For one batch and one model state, :func:`level_gradient_stats` evaluates
several classification and box losses on the *same* head outputs, with the
head's own assignment and calling convention (once per level P3 -> P7 with
the GHM EMA state carried across the calls, or once over all levels), and
reports per level:

* classification: the mean ``|dL/dx|`` at the positive entries (a positive
  anchor's logit of its own class), and the summed ``|dL/dx|`` over all
  positive and all negative entries, so the share the positives get, and
  over the negative entries of positive anchors (the other classes' logits
  on an object: what teaches the classes apart);
* regression: the mean ``|dL/dd|`` over the 4 coordinates of the positives.

The losses' EMA states are restored afterwards: probing does not change
training.  Used by ``tools/analyze_learning.py``.
"""
import paddle

from ppdet_ghm.losses.ghm_base import GHMLossBase
from ppdet_ghm.modeling.retina_head import box_loss, class_loss

__all__ = ['level_gradient_stats', 'pre_clip_gradient_norm']


def _ghm_states(losses):
    return [(loss, loss.acc_sum.clone()) for loss in losses
            if isinstance(loss, GHMLossBase)]


def _restore(states):
    for loss, acc_sum in states:
        paddle.assign(acc_sum, output=loss.acc_sum)


def _grad_of(loss_fn, value):
    """``(loss, dloss/dvalue)`` of a detached copy of ``value``."""
    x = value.detach()
    x.stop_gradient = False
    loss = loss_fn(x)
    (grad,) = paddle.grad(loss, x)
    return float(loss), grad


def _split(tensor, sizes, per_level):
    if not per_level:
        return [tensor]
    return paddle.split(tensor, sizes, axis=1)


def level_gradient_stats(head, head_outputs, inputs, class_losses,
                         box_losses, per_level=None):
    """Per-level gradient statistics of several losses on one batch.

    Args:
        head (GHMRetinaHead): gives the assignment and the loss convention.
        head_outputs: ``(cls_logits, bbox_deltas)`` of ``head.forward`` in
            eval mode (lists of ``(B, A*C, H, W)`` / ``(B, A*4, H, W)``).
        inputs (dict): reader inputs with ground truth.
        class_losses, box_losses (dict): name -> loss module.
        per_level (bool): call once per level (default: the head's own
            ``loss_per_level``) or once over all levels.

    Returns:
        dict: ``levels`` (names), ``num_pos`` per level, and for each loss
        name a dict of per-level lists: ``loss``, ``pos_grad_mean``,
        ``pos_grad_sum``, ``neg_grad_sum``, ``other_class_grad_sum``
        (classification) or ``loss``,
        ``pos_grad_mean`` (boxes).
    """
    per_level = head.loss_per_level if per_level is None else per_level
    logits, deltas, anchors = head.level_outputs(head_outputs)
    sizes = [int(a.shape[0]) for a in anchors]
    labels, label_weights, box_targets, box_weights = head.get_targets(
        paddle.concat(anchors), inputs)
    num_pos = box_weights.sum().clip(min=1.0)
    logits = paddle.concat(logits, axis=1).detach()
    deltas = paddle.concat(deltas, axis=1).detach()
    num_classes = logits.shape[-1]
    onehot = paddle.nn.functional.one_hot(
        labels.clip(0, num_classes), num_classes + 1)[..., :num_classes]
    valid = (label_weights > 0).astype('float32').unsqueeze(-1)
    pos_entry = onehot * valid
    neg_entry = (1.0 - onehot) * valid
    pos_anchor = (box_weights > 0).astype('float32')

    groups = list(zip(_split(logits, sizes, per_level),
                      _split(deltas, sizes, per_level),
                      _split(labels, sizes, per_level),
                      _split(label_weights, sizes, per_level),
                      _split(box_targets, sizes, per_level),
                      _split(box_weights, sizes, per_level),
                      _split(pos_entry, sizes, per_level),
                      _split(neg_entry, sizes, per_level),
                      _split(pos_anchor, sizes, per_level)))
    names = ['P{}'.format(3 + i) for i in range(len(sizes))] if per_level \
        else ['all']
    result = {'levels': names,
              'num_pos': [int(g[8].sum()) for g in groups]}
    states = _ghm_states(list(class_losses.values())
                         + list(box_losses.values()))
    try:
        for name, loss in class_losses.items():
            stats = {'loss': [], 'pos_grad_mean': [], 'pos_grad_sum': [],
                     'neg_grad_sum': [], 'other_class_grad_sum': []}
            for x, _, lab, lw, _, _, pos, neg, pa in groups:
                value, grad = _grad_of(lambda v: class_loss(
                    loss, v, lab, lw, num_pos), x)
                grad = grad.abs()
                pos_sum = float((grad * pos).sum())
                stats['loss'].append(value)
                stats['pos_grad_sum'].append(pos_sum)
                stats['pos_grad_mean'].append(
                    pos_sum / max(float(pos.sum()), 1.0))
                stats['neg_grad_sum'].append(float((grad * neg).sum()))
                stats['other_class_grad_sum'].append(
                    float((grad * neg * pa.unsqueeze(-1)).sum()))
            result[name] = stats
        for name, loss in box_losses.items():
            stats = {'loss': [], 'pos_grad_mean': []}
            for _, d, _, _, tgt, bw, _, _, pa in groups:
                value, grad = _grad_of(lambda v: box_loss(
                    loss, v, tgt, bw, num_pos), d)
                stats['loss'].append(value)
                stats['pos_grad_mean'].append(
                    float((grad.abs() * pa.unsqueeze(-1)).sum())
                    / max(4.0 * float(pa.sum()), 1.0))
            result[name] = stats
    finally:
        _restore(states)
    return result


def pre_clip_gradient_norm(parameters):
    """Global L2 norm of the parameters' current gradients (what
    ``ClipGradByGlobalNorm`` compares with its threshold)."""
    squares = [(p.grad.astype('float32') ** 2).sum() for p in parameters
               if p.grad is not None and not p.stop_gradient]
    if not squares:
        return 0.0
    return float(paddle.add_n(squares).sqrt())
