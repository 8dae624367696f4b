"""GHM-R: gradient harmonized regression loss (on Authentic Smooth L1)."""
import numbers

import paddle

from ..registry import register
from .ghm_base import GHMLossBase

__all__ = ['GHMRLoss']


@register
class GHMRLoss(GHMLossBase):
    """GHM-R loss (Li, Liu, Wang, AAAI 2019).

    With ``d = pred - target``, the Authentic Smooth L1 loss is
    ``ASL1(d) = sqrt(d^2 + mu^2) - mu`` and its gradient norm
    ``g = |d| / sqrt(d^2 + mu^2)`` lies in ``[0, 1)``.  Each valid entry's
    ASL1 is weighted by ``tot / density(g) / n``, ``tot`` being the SUM of
    ``label_weight``; the result is ``sum(ASL1 * weight) / tot * loss_weight``
    ('mean').

    Args:
        mu (float): ASL1 smoothing, > 0.
        bins (int): number of unit regions, >= 1.
        momentum (float): EMA momentum of the bin counts, ``0 <= m < 1``.
        loss_weight (float): factor after reduction, >= 0.
        reduction (str): 'mean' or 'none'.
        sync_across_ranks (bool): estimate the density on the global batch
            of a multi-process run (see :class:`GHMLossBase`).
    """

    task = 'regression'

    def __init__(self, mu=0.02, bins=10, momentum=0.0, loss_weight=1.0,
                 reduction='mean', sync_across_ranks=False):
        if isinstance(mu, bool) or not isinstance(mu, numbers.Real) \
                or not mu > 0:
            raise ValueError(
                "GHMRLoss.mu: expected a number > 0, got {!r}".format(mu))
        super().__init__(bins, momentum, loss_weight, reduction,
                         last_edge=1e3, sync_across_ranks=sync_across_ranks)
        self.mu = float(mu)

    def forward(self, pred, target, label_weight, reduction_override=None,
                avg_factor=None):
        """Compute the loss and update the EMA state.

        Args:
            pred (Tensor): ``(N, 4)`` predicted box deltas (any float dtype).
            target (Tensor): ``(N, 4)`` target deltas.
            label_weight (Tensor): ``(N, 4)`` (or ``(N,)``, expanded to 4
                coordinates); entries > 0 are valid, their sum is ``tot``.
            reduction_override (str): 'mean' or 'none'.
            avg_factor: accepted for API compatibility and ignored, as in the
                reference.

        Returns:
            Tensor: float32 scalar ('mean') or ``(N, 4)`` ('none').
        """
        reduction = self._resolve_reduction(reduction_override)
        if pred.ndim != 2 or target.shape != pred.shape:
            raise ValueError("GHMRLoss: pred and target must both be (N, 4), "
                             "got {} and {}".format(pred.shape, target.shape))
        if label_weight.shape == [pred.shape[0]]:
            label_weight = label_weight.unsqueeze(1).expand(pred.shape)
        elif label_weight.shape != pred.shape:
            raise ValueError("GHMRLoss: label_weight must be (N,) or {}, got "
                             "{}".format(pred.shape, label_weight.shape))

        if pred.shape[0] == 0:
            zero = pred.astype('float32') * 0.0
            return zero.sum() if reduction == 'mean' else zero

        with paddle.amp.auto_cast(enable=False):
            diff = pred.astype('float32') - target.astype('float32').detach()
            root = paddle.sqrt(diff * diff + self.mu * self.mu)
            asl1 = root - self.mu
            with paddle.no_grad():
                g = (diff / root).abs()
                label_weight = label_weight.astype('float32')
                index = self.bin_index(g, label_weight > 0)
                weights = self.entry_weights(
                    index, reduction, tot=label_weight.sum())
            loss = asl1 * weights
            return loss.sum() if reduction == 'mean' else loss
