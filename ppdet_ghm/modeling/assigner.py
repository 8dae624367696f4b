"""Max-IoU anchor assignment of the reference RetinaNet, batched."""
import paddle

from ..registry import register

__all__ = ['GHMRetinaAssigner', 'box_overlaps']


def box_overlaps(boxes, gts, mode='iou', eps=1e-6):
    """Pairwise IoU (or IoF: intersection over the area of ``boxes``).

    Args:
        boxes (Tensor): ``(A, 4)`` or ``(B, A, 4)`` x1, y1, x2, y2.
        gts (Tensor): ``(B, G, 4)``.

    Returns:
        Tensor ``(B, A, G)``.
    """
    if boxes.ndim == 2:
        boxes = boxes.unsqueeze(0)
    lt = paddle.maximum(boxes[:, :, None, :2], gts[:, None, :, :2])
    rb = paddle.minimum(boxes[:, :, None, 2:], gts[:, None, :, 2:])
    wh = (rb - lt).clip(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_boxes = ((boxes[..., 2] - boxes[..., 0]) *
                  (boxes[..., 3] - boxes[..., 1])).unsqueeze(2)
    if mode == 'iof':
        return inter / area_boxes.clip(min=eps)
    area_gts = ((gts[..., 2] - gts[..., 0]) *
                (gts[..., 3] - gts[..., 1])).unsqueeze(1)
    return inter / (area_boxes + area_gts - inter).clip(min=eps)


@register
class GHMRetinaAssigner(object):
    """Assign anchors to ground-truth boxes by IoU, for a whole batch at once.

    * max IoU >= ``pos_iou_thr``: positive, matched to that box;
    * ``0 <= max IoU < neg_iou_thr``: negative (background);
    * in between: ignored;
    * low-quality matches: every box whose best IoU is > ``min_pos_iou``
      makes all anchors reaching that best IoU positive (a later box wins a
      tie, as in the reference);
    * crowd boxes are never matched, they are ignore regions: an anchor
      whose intersection over its own area with a crowd box is >
      ``crowd_iof_thr`` is ignored and cannot become positive;
    * an image without boxes has only negatives.

    Args:
        pos_iou_thr (float), neg_iou_thr (float), min_pos_iou (float)
        crowd_iof_thr (float): < 0 disables crowd ignoring.
    """

    def __init__(self, pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.0,
                 crowd_iof_thr=0.5):
        if not 0 <= neg_iou_thr <= pos_iou_thr <= 1:
            raise ValueError(
                "GHMRetinaAssigner: expected 0 <= neg_iou_thr <= pos_iou_thr "
                "<= 1, got neg_iou_thr={}, pos_iou_thr={}".format(
                    neg_iou_thr, pos_iou_thr))
        if not 0 <= min_pos_iou <= 1:
            raise ValueError("GHMRetinaAssigner.min_pos_iou: expected 0 <= "
                             "min_pos_iou <= 1, got {}".format(min_pos_iou))
        if crowd_iof_thr > 1:
            raise ValueError("GHMRetinaAssigner.crowd_iof_thr: expected <= 1 "
                             "(< 0 disables crowd ignoring), got {}".format(
                                 crowd_iof_thr))
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.min_pos_iou = min_pos_iou
        self.crowd_iof_thr = crowd_iof_thr

    def __call__(self, anchors, gt_boxes, gt_valid, gt_crowd=None):
        """
        Args:
            anchors (Tensor): ``(A, 4)``.
            gt_boxes (Tensor): ``(B, G, 4)`` padded boxes.
            gt_valid (Tensor): ``(B, G)`` bool, False for padding.
            gt_crowd (Tensor): ``(B, G)`` bool or None.

        Returns:
            matched (Tensor): ``(B, A)`` int64 index of the matched box.
            pos (Tensor): ``(B, A)`` bool positives.
            neg (Tensor): ``(B, A)`` bool negatives (neither: ignored).
        """
        batch, num_gts = gt_boxes.shape[0], gt_boxes.shape[1]
        num_anchors = anchors.shape[0]
        if num_gts == 0:
            matched = paddle.zeros([batch, num_anchors], dtype='int64')
            neg = paddle.ones([batch, num_anchors], dtype='bool')
            return matched, paddle.zeros_like(neg), neg

        if gt_crowd is None:
            gt_crowd = paddle.zeros_like(gt_valid)
        target = gt_valid & ~gt_crowd
        ious = box_overlaps(anchors, gt_boxes)  # (B, A, G)
        # -1 marks columns that are no target: never a maximum above 0.
        ious = paddle.where(target.unsqueeze(1), ious,
                            paddle.full([1], -1.0, dtype=ious.dtype))
        if self.crowd_iof_thr >= 0:
            crowd = gt_valid & gt_crowd
            iof = box_overlaps(anchors, gt_boxes, mode='iof')
            iof = paddle.where(crowd.unsqueeze(1), iof, paddle.zeros_like(iof))
            ignored = iof.max(axis=2, keepdim=True) > self.crowd_iof_thr
            ious = paddle.where(ignored, paddle.full([1], -1.0, ious.dtype),
                                ious)
        else:
            ignored = paddle.zeros([batch, num_anchors, 1], dtype='bool')

        max_iou = ious.max(axis=2)
        matched = ious.argmax(axis=2)
        # An image without target boxes: every column is -1, every anchor is a
        # negative unless a crowd region covers it.
        no_target = ~target.any(axis=1, keepdim=True)
        neg = ((max_iou >= 0) & (max_iou < self.neg_iou_thr)) | \
            (no_target & ~ignored.squeeze(2))
        pos = max_iou >= self.pos_iou_thr

        # Low-quality matches: anchors reaching a box's best IoU.
        gt_max = ious.max(axis=1, keepdim=True)  # (B, 1, G)
        best = (ious == gt_max) & (gt_max > self.min_pos_iou)
        has_best = best.any(axis=2)
        # The last box in order wins, as the reference loops over boxes.
        last = num_gts - 1 - best.astype('int32').flip([2]).argmax(axis=2)
        matched = paddle.where(has_best, last.astype('int64'), matched)
        pos = pos | has_best
        neg = neg & ~pos
        return matched, pos, neg
