"""Gradient density estimation shared by GHM-C and GHM-R.

Both losses divide every example's loss by the density of examples whose
gradient norm ``g`` falls in the same unit region (bin) of ``[0, 1]``.  This
module holds what they share: argument validation, the bin edges, the
persistable exponential-moving-average state ``acc_sum`` and the maths that
turns one call's bin counts into per-bin weights.

Semantics follow the reference implementation (Li et al., AAAI 2019;
mmdetection ``ghm_loss.py``):

* bin ``i`` holds ``edges[i] <= g < edges[i + 1]``;
* only bins with at least one valid example are touched: with momentum ``m``
  ``acc_sum[i] = m * acc_sum[i] + (1 - m) * num_i`` (the current count enters
  before use, no bias correction), weight ``tot / acc_sum[i]``; with ``m = 0``
  weight ``tot / num_i``; empty bins are neither decayed nor weighted;
* weights are divided by the number ``n`` of non-empty bins and carry no
  gradient.

Everything is vectorised over bins and stays on the device: no host sync.
"""
import numbers

import numpy as np
import paddle
import paddle.distributed as dist
import paddle.nn as nn

__all__ = ['GHMLossBase']


def _check_number(name, value, integer=False):
    kinds = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError("{}: expected {}, got {!r} ({})".format(
            name, 'an integer' if integer else 'a number', value,
            type(value).__name__))


class GHMLossBase(nn.Layer):
    """Histogram + EMA state of one GHM loss.

    Args:
        bins (int): number of unit regions of ``[0, 1]``, >= 1.
        momentum (float): EMA momentum in ``[0, 1)``; 0 disables the EMA.
        loss_weight (float): factor applied after reduction, >= 0.
        reduction (str): ``'mean'`` (sum of weighted losses / tot) or
            ``'none'`` (element-wise weighted losses); ``'sum'`` is refused as
            in the reference, where it conflicts with the ``tot`` normaliser.
        last_edge (float): upper edge of the last bin.
        sync_across_ranks (bool): in multi-process training, sum the per-bin
            counts and ``tot`` over all ranks before the EMA update, so the
            density is estimated on the global batch (every rank then holds the
            same state).  Off by default, as in the reference, where every
            process keeps its own histogram.
    """

    # The head's contract (ppdet_ghm.modeling.retina_head): a GHM loss takes
    # (pred, target, weight) and normalises by its own harmonizing weights,
    # so the head does not divide by the number of positives.
    normalizes_itself = True
    task = None   # 'classification' / 'regression' in the subclasses

    def __init__(self, bins, momentum, loss_weight, reduction, last_edge,
                 sync_across_ranks=False):
        super().__init__()
        cls = type(self).__name__
        _check_number(cls + '.bins', bins, integer=True)
        if bins < 1:
            raise ValueError("{}.bins: expected an integer >= 1, got {}".format(
                cls, bins))
        _check_number(cls + '.momentum', momentum)
        if not 0 <= momentum < 1:
            raise ValueError(
                "{}.momentum: expected 0 <= momentum < 1, got {}".format(
                    cls, momentum))
        _check_number(cls + '.loss_weight', loss_weight)
        if not loss_weight >= 0:
            raise ValueError("{}.loss_weight: expected >= 0, got {}".format(
                cls, loss_weight))
        self._check_reduction(reduction)
        self.bins = int(bins)
        self.momentum = float(momentum)
        self.loss_weight = float(loss_weight)
        self.reduction = reduction
        if not isinstance(sync_across_ranks, bool):
            raise ValueError("{}.sync_across_ranks: expected true or false, "
                             "got {!r}".format(cls, sync_across_ranks))
        self.sync_across_ranks = sync_across_ranks

        # Same float32 arithmetic as the reference: arange / bins, last edge
        # moved so that g == 1 (GHM-C) or any g (GHM-R) lands in the last bin.
        edges = np.arange(bins + 1, dtype=np.float32) / np.float32(bins)
        edges[-1] = last_edge
        self._edges_float32 = edges
        self.register_buffer(
            'edges', paddle.to_tensor(edges), persistable=False)
        # The EMA of per-bin counts: part of the model's state, saved in
        # .pdparams so that resuming continues the same density estimate.
        self.register_buffer(
            'acc_sum', paddle.zeros([bins], dtype='float32'), persistable=True)

    def _keep_state_float32(self):
        # A whole-model cast (AMP O2 decorate, Layer.to(dtype)) reaches the
        # buffers too: float16 edges are not the reference's, and the EMA of
        # counts in the millions overflows float16.  Undo such a cast.
        if self.edges.dtype != paddle.float32:
            self.register_buffer('edges', paddle.to_tensor(
                self._edges_float32, place=self.edges.place), persistable=False)
        if self.acc_sum.dtype != paddle.float32:
            self.register_buffer('acc_sum', self.acc_sum.astype('float32'),
                                 persistable=True)

    def _check_reduction(self, reduction):
        if reduction not in ('mean', 'none'):
            raise ValueError(
                "{}.reduction: expected 'mean' or 'none', got {!r} ('sum' is "
                "not defined for GHM losses: they normalise by the number of "
                "valid examples themselves)".format(
                    type(self).__name__, reduction))

    def _resolve_reduction(self, reduction_override):
        if reduction_override is None:
            return self.reduction
        self._check_reduction(reduction_override)
        return reduction_override

    def bin_index(self, g, valid):
        """Bin of every entry, 0 for entries that take no part.

        Args:
            g (Tensor): float32 gradient norms, any shape.
            valid (Tensor): bool, broadcastable to ``g``.

        Returns:
            int32 Tensor of ``g``'s shape: ``i + 1`` for a valid entry in bin
            ``i``, 0 for invalid entries, ``bins + 1`` for a non-finite ``g``
            (above the last edge, so never counted nor weighted).
        """
        # right=True gives the first edge > g: edges[i] <= g < edges[i+1]
        # maps to i + 1 with the reference's own float32 edges (exact, also
        # at the boundaries); NaN compares false everywhere -> bins + 1.
        self._keep_state_float32()
        index = paddle.bucketize(g, self.edges, out_int32=True, right=True)
        # In place: a fresh (N, C) buffer costs more than the arithmetic.
        index.multiply_(valid.astype('int32'))
        return index

    def bin_counts(self, index):
        """Per-bin number of valid entries, float32 of shape ``(bins,)``."""
        counts = paddle.bincount(index.flatten(), minlength=self.bins + 2)
        return counts[1:self.bins + 1].astype('float32')

    def reduce_across_ranks(self, counts, tot):
        """Batch-wide statistics when ``sync_across_ranks`` is on.

        Args:
            counts (Tensor): float32 ``(bins,)`` this rank's per-bin counts.
            tot (Tensor): float32 scalar, this rank's un-clipped normaliser.

        Returns:
            counts, tot summed over ranks (or unchanged), and the number of
            ranks they cover (int).
        """
        ranks = dist.get_world_size()
        if not self.sync_across_ranks or ranks < 2:
            return counts, tot, 1
        stats = paddle.concat([counts, tot.reshape([1])])
        dist.all_reduce(stats)  # sum
        return stats[:-1], stats[-1], ranks

    def bin_weights(self, counts, tot):
        """Per-bin harmonizing weights; updates the EMA state.

        Args:
            counts (Tensor): float32 ``(bins,)`` valid entries per bin.
            tot (Tensor): float32 scalar, the loss's normaliser (>= 1).

        Returns:
            float32 Tensor ``(bins,)``: ``tot / density / n`` for non-empty
            bins, 0 for empty ones.
        """
        nonempty = counts > 0
        if self.momentum > 0:
            acc = paddle.where(
                nonempty,
                self.momentum * self.acc_sum + (1 - self.momentum) * counts,
                self.acc_sum)
            paddle.assign(acc, output=self.acc_sum)
            density = acc
        else:
            density = counts
        return self.harmonizing_weights(density, nonempty, tot)

    @staticmethod
    def harmonizing_weights(density, nonempty, tot):
        """``tot / density / n`` on the non-empty bins, 0 elsewhere.

        Args:
            density (Tensor): float32 ``(bins,)`` (EMA of) counts per bin.
            nonempty (Tensor): bool ``(bins,)``, bins with entries now.
            tot (Tensor or float): the normaliser.

        Returns:
            float32 Tensor ``(bins,)``; ``n`` is the number of non-empty bins.
        """
        ones = paddle.ones_like(density)
        weights = paddle.where(nonempty, tot / paddle.where(
            nonempty, density, ones), paddle.zeros_like(density))
        num_nonempty = nonempty.astype('float32').sum().clip(min=1.0)
        return weights / num_nonempty

    def entry_weights(self, index, reduction, tot=None):
        """Weight of every entry in the loss; updates the EMA state.

        Args:
            index (Tensor): int32, any shape, from :meth:`bin_index`.
            reduction (str): 'mean' folds the normaliser into the weights.
            tot (Tensor, optional): float32 scalar, this rank's normaliser
                before clipping; default the number of counted entries.

        Returns:
            float32 Tensor of ``index``'s shape: ``loss_weight * tot / density
            / n`` of the entry's bin, divided by the clipped ``tot`` for
            'mean'; 0 for entries outside the bins.
        """
        counts = self.bin_counts(index)
        counts, tot, ranks = self.reduce_across_ranks(
            counts, counts.sum() if tot is None else tot)
        tot = tot.clip(min=1.0)
        # With synced statistics each rank's loss is scaled by the number of
        # ranks, so the ranks' averaged gradients are the gradient of the
        # loss on the concatenated batch.
        scale = self.loss_weight * ranks / tot if reduction == 'mean' \
            else paddle.full([], self.loss_weight, dtype='float32')
        inner = self.bin_weights(counts, tot) * scale
        zero = paddle.zeros([1], dtype='float32')
        # Indexed like bin_index: 0 -> invalid, bins + 1 -> non-finite g.
        by_index = paddle.concat([zero, inner, zero])
        return paddle.gather(by_index, index.flatten()).reshape(index.shape)

    def extra_repr(self):
        return ('bins={}, momentum={}, loss_weight={}, reduction={}, '
                'sync_across_ranks={}'.format(
                    self.bins, self.momentum, self.loss_weight, self.reduction,
                    self.sync_across_ranks))
