"""GHM-C: gradient harmonized classification loss (sigmoid BCE)."""
import paddle
import paddle.nn.functional as F
from paddle.autograd import PyLayer

from ..registry import register
from .ghm_base import GHMLossBase

__all__ = ['GHMCLoss']


class _PrecomputedLoss(PyLayer):
    """Attach a loss value whose gradient was computed in the same pass.

    GHM-C's gradient is ``(sigmoid(x) - t) * w``, and ``sigmoid(x) - t`` is
    what the forward computes anyway to build the histogram; keeping it saves
    autograd's several passes over the (N, C) logits.
    """

    @staticmethod
    def forward(ctx, logits, value, grad):
        ctx.save_for_backward(grad)
        ctx.logits_dtype = logits.dtype
        return value.clone()

    @staticmethod
    def backward(ctx, grad_value):
        grad, = ctx.saved_tensor()
        return (grad * grad_value).astype(ctx.logits_dtype)


@register
class GHMCLoss(GHMLossBase):
    """GHM-C loss (Li, Liu, Wang, AAAI 2019), sigmoid form.

    ``g = |sigmoid(pred) - target|`` is binned over ``[0, 1]`` and each valid
    (anchor, class) entry's BCE is weighted by ``tot / density(g) / n``;
    ``tot`` is the number of valid entries.  The result is
    ``sum(BCE * weight) / tot * loss_weight`` ('mean').

    Args:
        bins (int): number of unit regions, >= 1.
        momentum (float): EMA momentum of the bin counts, ``0 <= m < 1``.
        use_sigmoid (bool): must be True (the softmax form is not defined).
        loss_weight (float): factor after reduction, >= 0.
        reduction (str): 'mean' or 'none'.
        sync_across_ranks (bool): estimate the density on the global batch
            of a multi-process run (see :class:`GHMLossBase`).
    """

    task = 'classification'

    def __init__(self, bins=10, momentum=0.0, use_sigmoid=True,
                 loss_weight=1.0, reduction='mean', sync_across_ranks=False):
        if use_sigmoid is not True:
            raise ValueError(
                "GHMCLoss.use_sigmoid: expected True (only the sigmoid form "
                "of GHM-C is defined), got {!r}".format(use_sigmoid))
        super().__init__(bins, momentum, loss_weight, reduction,
                         last_edge=1.0 + 1e-6,
                         sync_across_ranks=sync_across_ranks)
        self.use_sigmoid = True

    def forward(self, pred, target, label_weight, reduction_override=None,
                avg_factor=None):
        """Compute the loss and update the EMA state.

        Args:
            pred (Tensor): ``(N, C)`` logits, float16/bfloat16/float32/64.
            target (Tensor): ``(N,)`` integer labels, ``C`` (or any value
                outside ``[0, C)``) meaning background; or ``(N, C)`` float
                targets used as given (one-hot).
            label_weight (Tensor): ``(N,)`` per anchor or ``(N, C)``; entries
                > 0 are valid, the value itself is not used.
            reduction_override (str): 'mean' or 'none'.
            avg_factor: accepted for API compatibility and ignored, as in the
                reference (GHM normalises by its own ``tot``).

        Returns:
            Tensor: float32 scalar ('mean') or ``(N, C)`` ('none').
        """
        reduction = self._resolve_reduction(reduction_override)
        if pred.ndim != 2:
            raise ValueError("GHMCLoss: pred must be (N, C) logits, got shape "
                             "{}".format(pred.shape))
        num_classes = pred.shape[1]
        int_labels = target.ndim == 1
        if int_labels and target.dtype not in (paddle.int32, paddle.int64):
            raise ValueError("GHMCLoss: (N,) targets must be integer labels, "
                             "got dtype {}".format(target.dtype))
        if not int_labels and target.shape != pred.shape:
            raise ValueError("GHMCLoss: target must be (N,) labels or shaped "
                             "like pred {}, got {}".format(
                                 pred.shape, target.shape))
        if label_weight.shape not in ([pred.shape[0]], pred.shape):
            raise ValueError("GHMCLoss: label_weight must be (N,) or (N, C) "
                             "= {}, got {}".format(pred.shape, label_weight.shape))
        if pred.shape[0] == 0 or num_classes == 0:
            # Nothing to classify: a zero loss that is still part of the graph.
            zero = pred.astype('float32').sum() * 0.0
            return zero if reduction == 'mean' else pred.astype('float32') * 0.0

        with paddle.amp.auto_cast(enable=False):
            return self._forward_fp32(pred, target, label_weight, reduction,
                                      int_labels)

    def _forward_fp32(self, pred, target, label_weight, reduction, int_labels):
        # (N, C) buffers dominate the cost (a fresh one costs more than the
        # arithmetic on it), so the fast path works in place where it can.
        num_classes = pred.shape[1]
        with paddle.no_grad():
            logits = pred.detach().astype('float32')
            valid = label_weight > 0
            if valid.ndim == 1:
                valid = valid.unsqueeze(1)
            if int_labels:
                # One-hot rows have a single 1, so |sigmoid - onehot| is
                # sigmoid except at the label column, where it is 1 - sigmoid:
                # patch that column instead of materialising (N, C) targets.
                is_pos = ((target >= 0) & (target < num_classes)).unsqueeze(1)
                column = target.clip(0, num_classes - 1).astype(
                    'int64').unsqueeze(1)
                g = F.sigmoid(logits)
                # broadcast=False everywhere: Paddle's default broadcast
                # copies the whole (N, C) source first.
                g_at = paddle.take_along_axis(g, column, axis=1,
                                              broadcast=False)
                g.put_along_axis_(
                    column, paddle.where(is_pos, 1.0 - g_at, g_at), axis=1)
            else:
                targets = target.astype('float32')
                diff = F.sigmoid(logits) - targets
                g = diff.abs()
            index = self.bin_index(g, valid)
            weights = self.entry_weights(index, reduction)
            del index

        if reduction == 'none':
            if int_labels:
                targets = F.one_hot(target.clip(0, num_classes),
                                    num_classes + 1)[:, :num_classes]
            bce = F.binary_cross_entropy_with_logits(
                pred.astype('float32'), targets, reduction='none')
            return bce * weights

        with paddle.no_grad():
            # BCE = softplus(x) - x * t and d(BCE)/dx = sigmoid(x) - t, so
            # loss = sum(w * softplus(x)) - sum(w * x * t) and the gradient is
            # w * (sigmoid(x) - t).  Reductions use sum (pairwise), never
            # paddle.dot, which accumulates naively in float32.
            weighted = F.softplus(logits)
            weighted.multiply_(weights)
            value = weighted.sum()
            del weighted
            if int_labels:
                pos = is_pos.astype('float32')
                w_at = paddle.take_along_axis(weights, column, axis=1,
                                              broadcast=False)
                x_at = paddle.take_along_axis(logits, column, axis=1,
                                              broadcast=False)
                value -= (x_at * w_at * pos).sum()
                grad = g.multiply_(weights)  # g is ours: reuse its buffer
                grad_at = paddle.take_along_axis(grad, column, axis=1,
                                                 broadcast=False)
                # sigmoid - 1 = -(1 - sigmoid) = -g at the label column
                grad.put_along_axis_(
                    column, paddle.where(is_pos, -grad_at, grad_at), axis=1)
            else:
                value -= (logits * targets * weights).sum()
                grad = diff.multiply_(weights)
        if pred.stop_gradient:
            return value
        return _PrecomputedLoss.apply(pred, value, grad)
