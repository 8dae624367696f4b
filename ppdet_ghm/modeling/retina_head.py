"""RetinaNet head with GHM-C / GHM-R losses (or Focal / SmoothL1 baselines)."""
import math

import paddle
import paddle.nn as nn
from paddle import ParamAttr
from paddle.nn.initializer import Constant, Normal

from ..registry import register
from .box_coder import as_box_coder

__all__ = ['GHMRetinaHead', 'class_loss', 'box_loss', 'neck_features']


def _flatten_level(x, channels):
    """``(B, A * channels, H, W)`` -> ``(B, H * W * A, channels)``, the anchor
    generator's (y, x, cell) order."""
    return x.transpose([0, 2, 3, 1]).reshape([x.shape[0], -1, channels])


def pad_ground_truth(inputs):
    """Batch the per-image ground truth of a PaddleDetection reader.

    Args:
        inputs (dict): ``gt_bbox`` and ``gt_class`` as lists of ``(G_i, 4)`` /
            ``(G_i, 1)`` tensors (``collate_batch: false``) or padded tensors
            with ``pad_gt_mask``; optional ``is_crowd`` likewise.

    Returns:
        boxes ``(B, G, 4)`` float32, classes ``(B, G)`` int64, valid ``(B, G)``
        bool, crowd ``(B, G)`` bool (G = max boxes per image).
    """
    boxes, classes = inputs['gt_bbox'], inputs['gt_class']
    crowd = inputs.get('is_crowd')
    if isinstance(boxes, paddle.Tensor):
        valid = inputs['pad_gt_mask'].reshape(boxes.shape[:2]) > 0 \
            if 'pad_gt_mask' in inputs else \
            paddle.ones(boxes.shape[:2], dtype='bool')
        crowd = crowd.reshape(boxes.shape[:2]) > 0 if crowd is not None \
            else paddle.zeros_like(valid)
        return (boxes.astype('float32'), classes.reshape(boxes.shape[:2])
                .astype('int64'), valid, crowd & valid)

    num_max = max([int(b.shape[0]) for b in boxes] + [0])
    padded_boxes, padded_classes, valids, crowds = [], [], [], []
    for i, (b, c) in enumerate(zip(boxes, classes)):
        pad = num_max - int(b.shape[0])
        b = b.reshape([-1, 4]).astype('float32')
        c = c.reshape([-1]).astype('int64')
        k = crowd[i].reshape([-1]) > 0 if crowd is not None \
            else paddle.zeros([b.shape[0]], dtype='bool')
        v = paddle.ones([b.shape[0]], dtype='bool')
        if pad:
            b = paddle.concat([b, paddle.zeros([pad, 4], 'float32')])
            c = paddle.concat([c, paddle.zeros([pad], 'int64')])
            k = paddle.concat([k, paddle.zeros([pad], 'bool')])
            v = paddle.concat([v, paddle.zeros([pad], 'bool')])
        padded_boxes.append(b)
        padded_classes.append(c)
        crowds.append(k)
        valids.append(v)
    return (paddle.stack(padded_boxes), paddle.stack(padded_classes),
            paddle.stack(valids), paddle.stack(crowds))


# The head's contract with its losses (what each must accept):
# * a loss with ``normalizes_itself = True`` (the GHM losses) names its
#   ``task`` and is called as ``loss(pred, target, weight)``, returning the
#   normalised scalar;
# * any other loss is called as ``loss(pred, target, reduction='none')`` and
#   returns one value per element of ``pred``; the head sums the valid ones
#   and divides by the number of positives (PaddleDetection's FocalLoss,
#   SmoothL1Loss, or any loss of that form).
_TASKS = {'loss_class': 'classification', 'loss_bbox': 'regression'}
_EXPECTED = {
    'loss_class': 'a sigmoid classification loss on (N, num_classes) logits',
    'loss_bbox': 'a regression loss on (N, 4) box deltas'}


def _probe(loss, key, num_classes):
    """Call an element-wise loss once on dummy inputs of the head's shapes;
    the problem found (str), or None."""
    n = num_classes + 3   # no broadcasting of (n, C) against (n,)
    if key == 'loss_class':
        pred = paddle.zeros([n, num_classes])
        target = paddle.full([n], num_classes, dtype='int64')  # background
    else:
        pred, target = paddle.zeros([n, 4]), paddle.zeros([n, 4])
    try:
        with paddle.no_grad():
            out = loss(pred, target, reduction='none')
    except Exception as err:  # noqa: BLE001  (any failure: cannot train)
        return "calling it with reduction='none' failed ({}: {})".format(
            type(err).__name__, err)
    if not isinstance(out, paddle.Tensor) or list(out.shape) != list(pred.shape):
        return "with reduction='none' it returned {} for input {}".format(
            list(out.shape) if isinstance(out, paddle.Tensor) else
            type(out).__name__, list(pred.shape))
    return None


def _check_losses(loss_class, loss_bbox, num_classes):
    """Refuse loss modules the head cannot train with, naming the key."""
    for key, loss in (('loss_class', loss_class), ('loss_bbox', loss_bbox)):
        if getattr(loss, 'normalizes_itself', False):
            task = getattr(loss, 'task', None)
            problem = None if task == _TASKS[key] else \
                'it is a {} loss'.format(task)
        elif not callable(loss):
            problem = 'not a loss module'
        else:
            problem = _probe(loss, key, num_classes)
        if problem:
            raise ValueError('GHMRetinaHead.{}: got {} ({!r}): {}; expected {}'
                             .format(key, type(loss).__name__, loss, problem,
                                     _EXPECTED[key]))
    if getattr(loss_class, 'use_sigmoid', True) is not True:
        raise ValueError(
            "GHMRetinaHead.loss_class: {} with use_sigmoid={!r}; the head "
            "predicts one sigmoid logit per class (no background logit), so "
            "use_sigmoid must be true".format(
                type(loss_class).__name__, loss_class.use_sigmoid))


def set_conv_bias_lr(layer, lr_scale):
    """Set the learning-rate multiplier of every conv bias in ``layer``.

    Raises:
        ValueError: ``lr_scale`` is not a number >= 0, or ``layer`` has no
            conv with a bias (nothing would change).
    """
    if isinstance(lr_scale, bool) or not isinstance(lr_scale, (int, float)) or \
            lr_scale < 0:
        raise ValueError('GHMRetinaHead.conv_feat_bias_lr_scale: expected a '
                         'number >= 0 or null, got {!r}'.format(lr_scale))
    biases = [sub.bias for sub in layer.sublayers(include_self=True)
              if isinstance(sub, nn.Conv2D) and sub.bias is not None]
    if not biases:
        raise ValueError('GHMRetinaHead.conv_feat_bias_lr_scale: {} has no conv '
                         'with a bias; set it to null'.format(type(layer).__name__))
    for bias in biases:
        bias.optimize_attr['learning_rate'] = float(lr_scale)


@register
class GHMRetinaHead(nn.Layer):
    """RetinaNet head as in the GHM reference detector.

    Two towers (``conv_feat``, PaddleDetection's ``RetinaFeat``), then a 3x3
    conv to ``A * num_classes`` logits (bias from ``prior_prob``) and one to
    ``A * 4`` box deltas.  Training assigns anchors with ``bbox_assigner`` and
    calls ``loss_class`` / ``loss_bbox``:

    * GHM losses (``GHMCLoss``, ``GHMRLoss``) get every anchor with a weight
      (1 for positives and negatives / positives, 0 otherwise) and normalise
      themselves; with ``loss_per_level`` (the reference) they are called once
      per FPN level, P3 -> P7, so their EMA sees five updates an iteration;
    * any other loss (PaddleDetection's ``FocalLoss``, ``SmoothL1Loss``) is
      called with ``reduction='none'``, summed over valid entries and divided
      by the number of positives in the batch.

    Args:
        num_classes (int): foreground classes.
        conv_feat, anchor_generator, bbox_assigner, loss_class, loss_bbox:
            injected modules.
        post_processor: injected; decodes and runs NMS for
            :meth:`post_process` (the method PaddleDetection's ``RetinaNet``
            calls), e.g. ``GHMRetinaPostProcess``.
        prior_prob (float): initial foreground probability of the logits.
        loss_per_level (bool): call the losses once per level (reference) or
            once over all levels.
        box_coder: injected; encodes the box targets (the post-processor
            decodes with the same registered coder, ``DeltaXYWHBoxCoder``).
        conv_feat_bias_lr_scale (float or None): learning-rate multiplier of
            the towers' conv biases.  ``RetinaFeat`` (PaddleDetection's
            ``FCOSFeat``) builds them at 2x, as Detectron does; the
            reference's RetinaHead trains them at 1x (default).  ``None``
            keeps ``conv_feat``'s own.
    """
    __shared__ = ['num_classes']
    __inject__ = ['conv_feat', 'anchor_generator', 'bbox_assigner',
                  'loss_class', 'loss_bbox', 'post_processor', 'box_coder']

    def __init__(self, num_classes=80, conv_feat='RetinaFeat',
                 anchor_generator='GHMRetinaAnchorGenerator',
                 bbox_assigner='GHMRetinaAssigner', loss_class='GHMCLoss',
                 loss_bbox='GHMRLoss', post_processor='GHMRetinaPostProcess',
                 prior_prob=0.01, loss_per_level=True,
                 box_coder='DeltaXYWHBoxCoder', conv_feat_bias_lr_scale=1.0):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError("GHMRetinaHead.num_classes: expected an integer "
                             ">= 1, got {!r}".format(num_classes))
        self.num_classes = num_classes
        self.conv_feat = conv_feat
        self.anchor_generator = anchor_generator
        self.bbox_assigner = bbox_assigner
        self.loss_class = loss_class
        self.loss_bbox = loss_bbox
        self.post_processor = post_processor
        self.loss_per_level = loss_per_level
        self.box_coder = as_box_coder(box_coder, 'GHMRetinaHead')
        if getattr(post_processor, 'num_classes', num_classes) != num_classes:
            raise ValueError(
                "GHMRetinaHead: post_processor.num_classes ({}) differs from "
                "num_classes ({})".format(post_processor.num_classes, num_classes))

        _check_losses(loss_class, loss_bbox, num_classes)
        self.conv_feat_bias_lr_scale = conv_feat_bias_lr_scale
        if conv_feat_bias_lr_scale is not None:
            set_conv_bias_lr(conv_feat, conv_feat_bias_lr_scale)

        num_anchors = anchor_generator.num_anchors
        bias = -math.log((1 - prior_prob) / prior_prob)
        self.retina_cls = nn.Conv2D(
            conv_feat.feat_out, num_classes * num_anchors, 3, padding=1,
            weight_attr=ParamAttr(initializer=Normal(0.0, 0.01)),
            bias_attr=ParamAttr(initializer=Constant(bias)))
        self.retina_reg = nn.Conv2D(
            conv_feat.feat_out, 4 * num_anchors, 3, padding=1,
            weight_attr=ParamAttr(initializer=Normal(0.0, 0.01)),
            bias_attr=ParamAttr(initializer=Constant(0.0)))

    def forward(self, neck_feats, targets=None):
        """
        Args:
            neck_feats (list[Tensor]): P3..P7, ``(B, C_in, H_l, W_l)``.
            targets (dict): reader inputs, in training.

        Returns:
            training: dict of losses; else ``(cls_logits, bbox_deltas)``, lists
            of ``(B, A * num_classes, H_l, W_l)`` / ``(B, A * 4, H_l, W_l)``.
        """
        head_outputs = self.predict(neck_feats)
        if self.training:
            return self.get_loss(head_outputs, targets)
        return head_outputs

    def predict(self, neck_feats):
        """Raw outputs: lists of ``(B, A * num_classes, H_l, W_l)`` logits and
        ``(B, A * 4, H_l, W_l)`` deltas, one per level."""
        cls_logits, bbox_deltas = [], []
        for feat in neck_feats:
            cls_feat, reg_feat = self.conv_feat(feat)
            cls_logits.append(self.retina_cls(cls_feat))
            bbox_deltas.append(self.retina_reg(reg_feat))
        return cls_logits, bbox_deltas

    def get_targets(self, anchors, inputs):
        """Assign all anchors of a batch.

        Args:
            anchors (Tensor): ``(A, 4)`` all levels concatenated.
            inputs (dict): reader inputs with ground truth.

        Returns:
            labels ``(B, A)`` int64 (``num_classes`` = background),
            label_weights ``(B, A)`` float32 (0 = ignored),
            box_targets ``(B, A, 4)`` deltas (0 except at positives),
            box_weights ``(B, A)`` float32 (1 at positives).
        """
        gt_boxes, gt_classes, gt_valid, gt_crowd = pad_ground_truth(inputs)
        matched, pos, neg = self.bbox_assigner(anchors, gt_boxes, gt_valid,
                                               gt_crowd)
        if gt_boxes.shape[1] == 0:
            labels = paddle.full(pos.shape, self.num_classes, dtype='int64')
            box_targets = paddle.zeros(pos.shape + [4], dtype='float32')
        else:
            labels = paddle.take_along_axis(gt_classes, matched, axis=1)
            labels = paddle.where(pos, labels, paddle.full_like(
                labels, self.num_classes))
            matched_boxes = paddle.take_along_axis(
                gt_boxes, matched.unsqueeze(2).expand([-1, -1, 4]), axis=1)
            # Non-positive anchors may be matched to padding (zero boxes):
            # give them a harmless box so no NaN is ever formed.
            matched_boxes = paddle.where(pos.unsqueeze(2), matched_boxes,
                                         anchors.unsqueeze(0))
            box_targets = self.box_coder.encode(anchors.unsqueeze(0),
                                                matched_boxes)
        label_weights = (pos | neg).astype('float32')
        box_weights = pos.astype('float32')
        return labels, label_weights, box_targets.detach(), box_weights

    def level_outputs(self, head_outputs):
        """Each level's predictions flattened in its anchors' order.

        Args:
            head_outputs: ``(cls_logits, bbox_deltas)`` as :meth:`forward`
                returns them, one ``(B, A * C, H, W)`` / ``(B, A * 4, H, W)``
                tensor per level.

        Returns:
            Per level (lists): logits ``(B, N_l, num_classes)``, deltas
            ``(B, N_l, 4)`` and anchors ``(N_l, 4)``.
        """
        cls_logits, bbox_deltas = head_outputs
        return ([_flatten_level(x, self.num_classes) for x in cls_logits],
                [_flatten_level(x, 4) for x in bbox_deltas],
                self.anchor_generator(cls_logits))

    def get_loss(self, head_outputs, inputs):
        """Assign the batch's anchors, then call the losses per level (or
        once over all levels).

        Each level's predictions are flattened on their own and handed to
        the losses as they are: slicing one concatenation of all levels
        would make the backward pass build a zero gradient of all anchors
        per slice and copy the non-contiguous slices.
        """
        logits, deltas, level_anchors = self.level_outputs(head_outputs)
        level_sizes = [int(a.shape[0]) for a in level_anchors]
        labels, label_weights, box_targets, box_weights = self.get_targets(
            paddle.concat(level_anchors), inputs)
        num_pos = box_weights.sum().clip(min=1.0)

        if not self.loss_per_level:
            logits = [paddle.concat(logits, axis=1)]
            deltas = [paddle.concat(deltas, axis=1)]
            level_sizes = [sum(level_sizes)]

        loss_cls, loss_bbox, start = 0.0, 0.0, 0
        for level_logits, level_deltas, size in zip(logits, deltas,
                                                     level_sizes):
            end = start + size
            loss_cls = loss_cls + self.class_loss(
                level_logits, labels[:, start:end],
                label_weights[:, start:end], num_pos)
            loss_bbox = loss_bbox + self.box_loss(
                level_deltas, box_targets[:, start:end],
                box_weights[:, start:end], num_pos)
            start = end
        return {'loss_cls': loss_cls, 'loss_bbox': loss_bbox,
                'loss': loss_cls + loss_bbox}

    def class_loss(self, logits, labels, weights, num_pos):
        """:func:`class_loss` with the head's ``loss_class``."""
        return class_loss(self.loss_class, logits, labels, weights, num_pos)

    def box_loss(self, deltas, targets, weights, num_pos):
        """:func:`box_loss` with the head's ``loss_bbox``."""
        return box_loss(self.loss_bbox, deltas, targets, weights, num_pos)

    def post_process(self, head_outputs, im_shape, scale_factor):
        """Detections in PaddleDetection's format: ``bbox`` ``(M, 6)``,
        ``bbox_num`` ``(B,)``, and the NMS keep index."""
        logits, deltas, anchors = self.level_outputs(head_outputs)
        return self.post_processor(logits, deltas, anchors, im_shape,
                                   scale_factor)


def class_loss(loss_class, logits, labels, weights, num_pos):
    """A classification loss as the head reduces it.

    Args:
        loss_class: GHM-C (``normalizes_itself``: it divides by its own
            count) or a per-element loss such as FocalLoss (summed over the
            weighted entries, divided by ``num_pos``).
        logits (Tensor): ``(B, N, C)``.
        labels, weights (Tensor): ``(B, N)``; label C is background, weight
            0 is ignored.
        num_pos (Tensor): scalar, the batch's positives (>= 1).

    Returns:
        Tensor: scalar.
    """
    num_classes = logits.shape[-1]
    logits = logits.reshape([-1, num_classes])
    labels, weights = labels.reshape([-1]), weights.reshape([-1])
    if getattr(loss_class, 'normalizes_itself', False):
        return loss_class(logits, labels, weights)
    loss = loss_class(logits, labels, reduction='none')
    return (loss * weights.unsqueeze(1)).sum() / num_pos


def box_loss(loss_bbox, deltas, targets, weights, num_pos):
    """A box loss as the head reduces it: ``(B, N, 4)`` deltas and targets,
    ``(B, N)`` weights (1 at positives) -> scalar; GHM-R normalizes itself,
    a per-element loss (SmoothL1) is summed and divided by ``num_pos``."""
    deltas, targets = deltas.reshape([-1, 4]), targets.reshape([-1, 4])
    weights = weights.reshape([-1, 1]).expand([-1, 4])
    if getattr(loss_bbox, 'normalizes_itself', False):
        return loss_bbox(deltas, targets, weights)
    loss = loss_bbox(deltas, targets, reduction='none')
    return (loss * weights).sum() / num_pos


def neck_features(model, inputs):
    """The FPN levels a RetinaNet's head reads: ``model.neck(model.backbone(
    inputs))`` (``inputs`` a reader batch with ``image``), as PaddleDetection's
    ``RetinaNet`` computes them."""
    return model.neck(model.backbone(inputs))
