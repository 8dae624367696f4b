"""Retina post-processing: top-k per level, decode, clip, rescale, NMS."""
import numbers

import paddle
import paddle.nn.functional as F

from ..compat import multiclass_nms
from ..registry import register
from .box_coder import as_box_coder

__all__ = ['GHMRetinaPostProcess']


def _static_size(x, axis):
    """``x.shape[axis]`` as a Python int (-1 when unknown while exporting).

    Read with ``getattr`` so that the to_static converter leaves it alone:
    it would turn the shape into a tensor and the ``if`` on it into a
    ``pd_op.if`` of the exported program, which paddle2onnx does not
    convert faithfully (its ONNX model detected nothing); decided at export
    time, the program has no branch."""
    return getattr(x, 'shape')[axis]


def _check_post_process_args(nms_pre, score_threshold, nms_threshold,
                             max_per_img):
    """ValueError naming the argument: out of range, each of these would
    silently leave every image without detections (or suppress nothing)."""
    name = 'GHMRetinaPostProcess'
    for key, value in (('nms_pre', nms_pre), ('max_per_img', max_per_img)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                or value < 1:
            raise ValueError('{}.{}: expected an integer >= 1, got {!r}'.format(
                name, key, value))
    for key, value in (('score_threshold', score_threshold),
                       ('nms_threshold', nms_threshold)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError('{}.{}: expected a number (0 <= value <= 1), got '
                             '{!r}'.format(name, key, value))
        if not 0 <= value <= 1:
            raise ValueError('{}.{}: expected 0 <= value <= 1, got {}'.format(
                name, key, value))


@register
class GHMRetinaPostProcess(object):
    """Turn RetinaNet head outputs into PaddleDetection detections.

    Per image and FPN level the ``nms_pre`` anchors with the highest max class
    score are kept; their boxes are decoded, clipped to the (resized) image and
    rescaled to the original image; then class-wise NMS keeps scores
    > ``score_threshold``, IoU ``nms_threshold``, at most ``max_per_img``.

    Output as PaddleDetection's: ``bbox`` ``(M, 6)`` rows
    ``[class, score, x1, y1, x2, y2]`` and ``bbox_num`` ``(B,)``.

    With ``exclude_nms`` (set by ``engine.export_model(..., exclude_nms=True)``
    for ONNX, as PP-YOLOE's option of that name) the NMS step is left out:
    the outputs are the candidates before it, ``boxes`` ``(B, K, 4)`` in
    original-image pixels and ``scores`` ``(B, C, K)``, and the deploy
    runner applies the same NMS (``ppdet_ghm.deploy.nms``).
    """
    __shared__ = ['num_classes']
    __inject__ = ['box_coder']

    def __init__(self, num_classes=80, nms_pre=1000, score_threshold=0.05,
                 nms_threshold=0.5, max_per_img=100,
                 box_coder='DeltaXYWHBoxCoder', exclude_nms=False):
        _check_post_process_args(nms_pre, score_threshold, nms_threshold,
                                 max_per_img)
        self.num_classes = num_classes
        self.nms_pre = nms_pre
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_per_img = max_per_img
        self.box_coder = as_box_coder(box_coder, 'GHMRetinaPostProcess')
        self.exclude_nms = bool(exclude_nms)

    def nms_settings(self):
        """The NMS this post-processor applies, as the deploy runner reads
        it from ``infer_cfg.yml`` (``NMS`` block) when it is left out."""
        return {'score_threshold': float(self.score_threshold),
                'nms_threshold': float(self.nms_threshold),
                'keep_top_k': int(self.max_per_img)}

    def _top_anchors(self, logits, deltas, anchors):
        """Keep the ``nms_pre`` anchors of one level with the best max score
        and turn their logits into scores.

        The ranking uses ``sigmoid(max logit)``, which equals the max class
        score (sigmoid is monotonic), and only the kept rows go through the
        sigmoid: no score tensor of the whole level is ever formed.

        Args:
            logits (Tensor): ``(B, N, C)``; deltas ``(B, N, 4)``; anchors ``(N, 4)``.

        Returns:
            scores ``(B, K, C)``, deltas ``(B, K, 4)``, anchors ``(B, K, 4)``.
        """
        num = _static_size(logits, 1)   # -1: not known while exporting
        batch = _static_size(deltas, 0)
        # not expand_as: paddle2onnx 2.1 turns it into an Expand to the
        # export-time shape (batch 1), and a batch of 2 then fails in ONNX
        batch_anchors = anchors.unsqueeze(0).expand(
            [batch if batch >= 0 else paddle.shape(deltas)[0], -1, -1])
        if self.nms_pre is None or self.nms_pre <= 0 or 0 <= num <= self.nms_pre:
            return F.sigmoid(logits), deltas, batch_anchors
        # here num > nms_pre, or num == -1 (exporting with a dynamic size:
        # k = min(N, nms_pre) computed in the program)
        k = self.nms_pre if num >= 0 else paddle.clip(
            paddle.shape(logits)[1], max=self.nms_pre)
        _, index = F.sigmoid(logits.max(axis=2)).topk(k, axis=1)
        index = index.unsqueeze(2)
        # broadcast=False: the default would first copy the whole level.
        return (F.sigmoid(paddle.take_along_axis(logits, index.expand(
                    [-1, -1, logits.shape[2]]), axis=1, broadcast=False)),
                paddle.take_along_axis(deltas, index.expand([-1, -1, 4]),
                                       axis=1, broadcast=False),
                paddle.take_along_axis(batch_anchors, index.expand([-1, -1, 4]),
                                       axis=1, broadcast=False))

    def __call__(self, cls_logits, bbox_deltas, anchors, im_shape, scale_factor):
        """
        Args:
            cls_logits (list[Tensor]): per level ``(B, N_l, C)`` logits.
            bbox_deltas (list[Tensor]): per level ``(B, N_l, 4)``.
            anchors (list[Tensor]): per level ``(N_l, 4)``.
            im_shape (Tensor): ``(B, 2)`` resized image (h, w).
            scale_factor (Tensor): ``(B, 2)`` (scale_y, scale_x).

        Returns:
            bbox ``(M, 6)``, bbox_num ``(B,)`` int32, keep index; with
            ``exclude_nms``: boxes ``(B, K, 4)``, scores ``(B, C, K)``, None.
        """
        boxes, scores = [], []
        for logits, deltas, level_anchors in zip(cls_logits, bbox_deltas,
                                                  anchors):
            level_scores, deltas, level_anchors = self._top_anchors(
                logits, deltas, level_anchors)
            boxes.append(self.box_coder.decode(level_anchors, deltas,
                                               max_shape=im_shape))
            scores.append(level_scores)
        boxes = paddle.concat(boxes, axis=1)
        scores = paddle.concat(scores, axis=1)
        # (scale_y, scale_x) -> (sx, sy, sx, sy)
        scale = paddle.concat([scale_factor[:, ::-1], scale_factor[:, ::-1]],
                              axis=1).unsqueeze(1)
        boxes = boxes / scale
        scores = scores.transpose([0, 2, 1])
        if self.exclude_nms:
            return boxes, scores, None
        # Paddle's C++ NMS kernel (ppdet_ghm.compat): it runs in dygraph
        # and in the static graph, so an exported model keeps this step.
        bbox, keep, bbox_num = multiclass_nms(
            boxes, scores, score_threshold=self.score_threshold,
            nms_threshold=self.nms_threshold, keep_top_k=self.max_per_img)
        return bbox, bbox_num, keep
