"""Gradient-norm statistics of a trained GHM RetinaNet (the paper's Fig. 1-3).

For every image the head's predictions are matched to the ground truth with
the training-time assignment (:meth:`GHMRetinaHead.get_targets`), then

* classification: ``g = |sigmoid(x) - t|`` over the valid (anchor, class)
  entries, i.e. positives and negatives, ignored anchors left out;
* regression: ``d = pred - target`` over the 4 coordinates of positive
  anchors, with the GHM-R gradient norm ``g = |d| / sqrt(d^2 + mu^2)``.

Only histograms are accumulated (a COCO image has ~10^7 classification
entries), on a fine grid for the pictures and on the losses' own GHM bins
(through the loss classes' :meth:`bin_index` / :meth:`bin_counts`) for the
harmonizing weights.

The reweighting curves compare the gradient each loss sends to one example,
as a function of its gradient norm, on the density measured on the model:

* classification, one negative entry with ``sigmoid(x) = g``: CE sends ``g``;
  focal loss (gamma 2, alpha off) the derivative of PaddleDetection's
  ``sigmoid_focal_loss``; GHM-C ``g * beta(g)``, ``beta`` the per-bin weight
  ``tot / density / n`` of :meth:`GHMLossBase.bin_weights` with the whole
  analysed set as one batch (the mean of ``beta`` over examples is 1, so CE and
  GHM-C are on the same scale);
* regression, as a function of ``|d|``: SL1 (``min(|d| / beta, 1)``), ASL1
  (``|d| / sqrt(d^2 + mu^2)``) and GHM-R (ASL1 times its ``beta``).
"""
import numpy as np
import paddle
import paddle.nn.functional as F

from ..losses import GHMCLoss, GHMRLoss

__all__ = ['gradient_shares', 'GradientNormStats', 'classification_gradient_norms',
           'regression_gradient_norms', 'ghm_weights', 'classification_curves',
           'regression_curves']


def classification_gradient_norms(logits, labels, label_weights):
    """``|sigmoid(x) - onehot(label)|`` of the valid entries.

    Args:
        logits (Tensor): ``(B, A, C)`` float.
        labels (Tensor): ``(B, A)`` int64, ``C`` = background.
        label_weights (Tensor): ``(B, A)``, > 0 for valid anchors.

    Returns:
        float32 Tensor ``(V * C,)``, V = number of valid anchors.
    """
    num_classes = logits.shape[-1]
    valid = label_weights.reshape([-1]) > 0
    logits = logits.reshape([-1, num_classes]).astype('float32')[valid]
    labels = labels.reshape([-1])[valid]
    onehot = F.one_hot(labels.clip(0, num_classes), num_classes + 1)
    return (F.sigmoid(logits) - onehot[:, :num_classes]).abs().reshape([-1])


def regression_gradient_norms(deltas, targets, box_weights, mu):
    """``|d|`` and ``|d| / sqrt(d^2 + mu^2)`` over positive anchors' coords.

    Args:
        deltas, targets (Tensor): ``(B, A, 4)`` predicted / target deltas.
        box_weights (Tensor): ``(B, A)``, > 0 at positives.
        mu (float): ASL1 smoothing.

    Returns:
        two float32 Tensors ``(P * 4,)``.
    """
    positive = box_weights.reshape([-1]) > 0
    diff = (deltas.reshape([-1, 4]).astype('float32')
            - targets.reshape([-1, 4]).astype('float32'))[positive]
    diff = diff.abs().reshape([-1])
    return diff, diff / paddle.sqrt(diff * diff + mu * mu)


class GradientNormStats(object):
    """Histograms of gradient norms accumulated over images.

    Args:
        loss_cls (GHMCLoss), loss_reg (GHMRLoss): give the GHM bins (and
            ``mu``); their EMA state is neither used nor changed.
        fine_bins (int): bins of ``[0, 1]`` for the pictures.
        max_abs_delta (float): range of the ``|d|`` histogram (larger values
            go to the last bin).
    """

    def __init__(self, loss_cls, loss_reg, fine_bins=100, max_abs_delta=2.0):
        if not isinstance(loss_cls, GHMCLoss) or not isinstance(
                loss_reg, GHMRLoss):
            raise TypeError('GradientNormStats needs a GHMCLoss and a GHMRLoss, '
                            'got {} and {}'.format(type(loss_cls).__name__,
                                                   type(loss_reg).__name__))
        self.loss_cls, self.loss_reg = loss_cls, loss_reg
        self.fine_edges = np.linspace(0.0, 1.0, fine_bins + 1)
        self.delta_edges = np.linspace(0.0, max_abs_delta, fine_bins + 1)
        self.cls_fine = np.zeros(fine_bins, np.int64)
        self.reg_fine = np.zeros(fine_bins, np.int64)
        self.delta_fine = np.zeros(fine_bins, np.int64)
        self.cls_ghm = np.zeros(loss_cls.bins, np.int64)
        # sum of g per GHM bin: GHM-C's gradient in a bin is (tot / n) * mean g
        self.cls_ghm_g = np.zeros(loss_cls.bins, np.float64)
        self.reg_ghm = np.zeros(loss_reg.bins, np.int64)
        self.num_images = 0
        self.num_valid_anchors = 0
        self.num_positive_anchors = 0

    @staticmethod
    def _fine_counts(values, edges):
        # closed last bin: g == 1 (an entry predicted exactly wrong) counts
        counts = paddle.histogram(values, bins=len(edges) - 1,
                                  min=float(edges[0]), max=float(edges[-1]))
        return counts.numpy().astype(np.int64)

    def _ghm_counts(self, loss, g, with_g_sums=False):
        """Entries per GHM bin (and, if asked, the sum of ``g`` per bin)
        from one binning of ``g``."""
        index = loss.bin_index(g, paddle.ones_like(g, dtype='bool'))
        counts = loss.bin_counts(index).numpy().astype(np.int64)
        if not with_g_sums:
            return counts
        sums = paddle.bincount(index.flatten(), weights=g.flatten().astype(
            'float64'), minlength=loss.bins + 2)[1:loss.bins + 1]
        return counts, sums.numpy()

    def update(self, logits, deltas, labels, label_weights, box_targets,
               box_weights):
        """Add one batch (shapes as :meth:`GHMRetinaHead.get_targets`)."""
        self.num_images += int(logits.shape[0])
        self.num_valid_anchors += int((label_weights > 0).sum())
        self.num_positive_anchors += int((box_weights > 0).sum())
        g_cls = classification_gradient_norms(logits, labels, label_weights)
        abs_d, g_reg = regression_gradient_norms(
            deltas, box_targets, box_weights, self.loss_reg.mu)
        if g_cls.shape[0]:
            self.cls_fine += self._fine_counts(g_cls, self.fine_edges)
            counts, g_sums = self._ghm_counts(self.loss_cls, g_cls,
                                              with_g_sums=True)
            self.cls_ghm += counts
            self.cls_ghm_g += g_sums
        if g_reg.shape[0]:
            self.reg_fine += self._fine_counts(g_reg, self.fine_edges)
            self.delta_fine += self._fine_counts(
                abs_d.clip(max=float(self.delta_edges[-1])), self.delta_edges)
            self.reg_ghm += self._ghm_counts(self.loss_reg, g_reg)

    def to_dict(self):
        """Counts and edges (JSON-ready)."""
        def edges(loss):
            return [float(e) for e in loss.edges.numpy()]
        return {
            'num_images': self.num_images,
            'num_valid_anchors': self.num_valid_anchors,
            'num_positive_anchors': self.num_positive_anchors,
            'classification': {
                'num_entries': int(self.cls_fine.sum()),
                'fine_edges': self.fine_edges.tolist(),
                'fine_counts': self.cls_fine.tolist(),
                'ghm_bins': self.loss_cls.bins,
                'ghm_edges': edges(self.loss_cls),
                'ghm_counts': self.cls_ghm.tolist(),
                'ghm_g_sums': self.cls_ghm_g.tolist(),
            },
            'regression': {
                'mu': self.loss_reg.mu,
                'num_entries': int(self.reg_fine.sum()),
                'fine_edges': self.fine_edges.tolist(),
                'fine_counts': self.reg_fine.tolist(),
                'abs_delta_edges': self.delta_edges.tolist(),
                'abs_delta_counts': self.delta_fine.tolist(),
                'ghm_bins': self.loss_reg.bins,
                'ghm_edges': edges(self.loss_reg),
                'ghm_counts': self.reg_ghm.tolist(),
            },
        }


def ghm_weights(loss, counts, g):
    """GHM weight of gradient norms ``g`` for a density given by ``counts``.

    The whole analysed set is treated as one batch of the loss with momentum
    0: ``beta = tot / count(bin(g)) / n`` from the loss's own
    :meth:`bin_index` and :meth:`harmonizing_weights`; its EMA state is not
    touched.

    Args:
        loss (GHMLossBase): gives the bins and edges.
        counts (array): ``(bins,)`` entries per GHM bin.
        g (array): gradient norms to weight.

    Returns:
        float64 array shaped like ``g`` (0 where the bin is empty).
    """
    counts = paddle.to_tensor(np.asarray(counts, np.float32))
    per_bin = loss.harmonizing_weights(counts, counts > 0,
                                       counts.sum().clip(min=1.0))
    g = paddle.to_tensor(np.asarray(g, np.float32))
    index = loss.bin_index(g, paddle.ones_like(g, dtype='bool'))
    padded = paddle.concat([paddle.zeros([1]), per_bin, paddle.zeros([1])])
    return paddle.gather(padded, index.flatten()).reshape(g.shape) \
        .numpy().astype(np.float64)


def gradient_shares(classification, thresholds=(0.5, 0.8), gamma=2.0):
    """Which share of the classification gradient the hard entries get.

    For each threshold ``t``: the fraction of entries with ``g >= t`` and the
    share of the summed ``|dL/dx|`` they receive under CE, FocalLoss
    (``gamma``, no alpha; from the fine histogram's bin centres) and GHM-C
    (exact: with the whole analysed set as one batch, a GHM bin's entries
    get ``tot / n * mean g`` together, so the share follows from the per-bin
    sums of ``g``; bins whose lower edge is ``>= t``).

    Args:
        classification (dict): ``GradientNormStats.to_dict()['classification']``.
        thresholds (tuple[float]): values of ``g``.

    Returns:
        list[dict]: ``threshold``, ``entries``, ``ce``, ``focal``, ``ghm_c``.
    """
    fine_edges = np.asarray(classification['fine_edges'], np.float64)
    fine_counts = np.asarray(classification['fine_counts'], np.float64)
    centres = (fine_edges[:-1] + fine_edges[1:]) / 2
    ce = fine_counts * centres
    focal = fine_counts * _focal_gradient_norm(centres, gamma)
    ghm_edges = np.asarray(classification['ghm_edges'], np.float64)[:-1]
    counts = np.asarray(classification['ghm_counts'], np.float64)
    g_sums = np.asarray(classification['ghm_g_sums'], np.float64)
    # per bin: (tot / n) * mean g; the common factor tot / n cancels
    ghm = np.where(counts > 0, g_sums / np.maximum(counts, 1), 0.0)
    rows = []
    for t in thresholds:
        fine = fine_edges[:-1] >= t - 1e-9
        hard = ghm_edges >= t - 1e-6
        rows.append({
            'threshold': float(t),
            'entries': float(counts[hard].sum() / max(counts.sum(), 1)),
            'ce': float(ce[fine].sum() / max(ce.sum(), 1e-30)),
            'focal': float(focal[fine].sum() / max(focal.sum(), 1e-30)),
            'ghm_c': float(ghm[hard].sum() / max(ghm.sum(), 1e-30))})
    return rows


def _focal_gradient_norm(g, gamma):
    """|d FL / dx| of one negative entry with ``sigmoid(x) = g``, from
    PaddleDetection's (paddle's) ``sigmoid_focal_loss`` by autograd."""
    g = np.clip(np.asarray(g, np.float64), 1e-7, 1 - 1e-7)
    logit = paddle.to_tensor(np.log(g / (1 - g)).astype(np.float32),
                             stop_gradient=False)
    # alpha = 0.5 weighs both classes by 1/2: undo it to switch alpha off
    loss = 2.0 * F.sigmoid_focal_loss(logit, paddle.zeros_like(logit),
                                      alpha=0.5, gamma=gamma, reduction='sum')
    loss.backward()
    return np.abs(logit.grad.numpy()).astype(np.float64)


def classification_curves(loss_cls, counts, num_points=200, gamma=2.0):
    """Per-example gradient norm after reweighting, as a function of ``g``.

    Returns:
        dict of float lists: ``g``, ``ce``, ``focal``, ``ghm_c``.
    """
    g = (np.arange(num_points) + 0.5) / num_points
    return {'g': g.tolist(), 'ce': g.tolist(),
            'focal': _focal_gradient_norm(g, gamma).tolist(),
            'ghm_c': (g * ghm_weights(loss_cls, counts, g)).tolist()}


def regression_curves(loss_reg, counts, max_abs_delta=1.0, num_points=200,
                      sl1_beta=0.11):
    """Per-coordinate gradient norm after reweighting, as a function of |d|.

    Returns:
        dict of float lists: ``abs_delta``, ``sl1``, ``asl1``, ``ghm_r``.
    """
    d = (np.arange(num_points) + 0.5) / num_points * max_abs_delta
    asl1 = d / np.sqrt(d * d + loss_reg.mu * loss_reg.mu)
    return {'abs_delta': d.tolist(),
            'sl1': np.minimum(d / sl1_beta, 1.0).tolist(),
            'asl1': asl1.tolist(),
            'ghm_r': (asl1 * ghm_weights(loss_reg, counts, asl1)).tolist()}
