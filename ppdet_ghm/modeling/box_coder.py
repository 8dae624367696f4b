"""Box <-> delta encoding of the reference detector (no +1 in widths)."""
import math

import paddle

from ..registry import register

__all__ = ['DeltaXYWHBoxCoder', 'as_box_coder', 'encode_deltas', 'decode_deltas',
           'MAX_LOG_RATIO']

# dw, dh are clamped to +-log(1000 / 16) before exp when decoding.
MAX_LOG_RATIO = abs(math.log(16.0 / 1000.0))


def _center_size(boxes):
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * w, boxes[..., 1] + 0.5 * h, w, h


def encode_deltas(anchors, targets, means=(0., 0., 0., 0.),
                  stds=(1., 1., 1., 1.)):
    """Deltas that move ``anchors`` onto ``targets``.

    Args:
        anchors, targets (Tensor): ``(..., 4)`` boxes x1, y1, x2, y2.

    Returns:
        Tensor ``(..., 4)``: ``((dx, dy, dw, dh) - means) / stds``.
    """
    ax, ay, aw, ah = _center_size(anchors)
    tx, ty, tw, th = _center_size(targets)
    deltas = paddle.stack([(tx - ax) / aw, (ty - ay) / ah,
                           paddle.log(tw / aw), paddle.log(th / ah)], axis=-1)
    return (deltas - paddle.to_tensor(means, dtype=deltas.dtype)) / \
        paddle.to_tensor(stds, dtype=deltas.dtype)


def decode_deltas(anchors, deltas, means=(0., 0., 0., 0.),
                  stds=(1., 1., 1., 1.), max_shape=None):
    """Inverse of :func:`encode_deltas`, ``dw/dh`` clamped to
    ``+-MAX_LOG_RATIO``; boxes clipped to ``max_shape`` when given.

    Args:
        anchors, deltas (Tensor): ``(..., 4)``, broadcastable.
        max_shape (Tensor): ``(..., 2)`` image (h, w) broadcastable to the
            boxes' leading dims, or None.

    Returns:
        Tensor ``(..., 4)`` boxes x1, y1, x2, y2.
    """
    # per component with Python floats: an exported program then holds
    # scale ops, not constant tensors (assign_value_ with a double array
    # attribute, which Paddle Inference's oneDNN executor cannot run)
    dx, dy, dw, dh = (deltas[..., k] * float(stds[k]) + float(means[k])
                      for k in range(4))
    ax, ay, aw, ah = _center_size(anchors)
    cx = ax + dx * aw
    cy = ay + dy * ah
    w = aw * paddle.exp(dw.clip(-MAX_LOG_RATIO, MAX_LOG_RATIO))
    h = ah * paddle.exp(dh.clip(-MAX_LOG_RATIO, MAX_LOG_RATIO))
    x1, y1, x2, y2 = cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h
    if max_shape is not None:
        zero = paddle.zeros_like(x1)
        height = max_shape[..., 0:1].astype(x1.dtype)
        width = max_shape[..., 1:2].astype(x1.dtype)
        x1 = paddle.minimum(paddle.maximum(x1, zero), width)
        x2 = paddle.minimum(paddle.maximum(x2, zero), width)
        y1 = paddle.minimum(paddle.maximum(y1, zero), height)
        y2 = paddle.minimum(paddle.maximum(y2, zero), height)
    return paddle.stack([x1, y1, x2, y2], axis=-1)


@register
class DeltaXYWHBoxCoder(object):
    """The box coder of the head and the post-processor: one config block
    (``DeltaXYWHBoxCoder: {means, stds}``) injected into both, so training
    encodes and inference decodes with the same normalisation (mmdetection's
    ``bbox_coder``, detectron2's ``Box2BoxTransform``).

    Args:
        means, stds (list[float]): 4 values each; deltas are
            ``((dx, dy, dw, dh) - means) / stds``.  The reference RetinaNet
            uses means 0, stds 1.
    """

    def __init__(self, means=[0., 0., 0., 0.], stds=[1., 1., 1., 1.]):
        for key, value in (('means', means), ('stds', stds)):
            if len(value) != 4:
                raise ValueError('DeltaXYWHBoxCoder.{}: expected 4 values '
                                 '(dx, dy, dw, dh), got {!r}'.format(key, value))
        if any(float(s) <= 0 for s in stds):
            raise ValueError('DeltaXYWHBoxCoder.stds: expected 4 values > 0, '
                             'got {!r}'.format(stds))
        self.means = [float(m) for m in means]
        self.stds = [float(s) for s in stds]

    def encode(self, anchors, targets):
        """:func:`encode_deltas` with this coder's means/stds;
        ``(..., 4)`` -> ``(..., 4)``."""
        return encode_deltas(anchors, targets, self.means, self.stds)

    def decode(self, anchors, deltas, max_shape=None):
        """:func:`decode_deltas` with this coder's means/stds;
        ``(..., 4)`` -> ``(..., 4)`` boxes, clipped to ``max_shape``."""
        return decode_deltas(anchors, deltas, self.means, self.stds,
                             max_shape=max_shape)


def as_box_coder(value, owner):
    """The coder a module was given: the injected object, or a default
    :class:`DeltaXYWHBoxCoder` when the module is built directly in Python
    (ppdet's ``create`` replaces the default name by the configured coder).

    Raises:
        ValueError: naming ``owner`` when ``value`` is neither.
    """
    if value is None or value == 'DeltaXYWHBoxCoder':
        return DeltaXYWHBoxCoder()
    if callable(getattr(value, 'encode', None)) and callable(
            getattr(value, 'decode', None)):
        return value
    raise ValueError('{}.box_coder: expected a box coder with encode/decode '
                     '(e.g. DeltaXYWHBoxCoder), got {!r}'.format(owner, value))
