"""Box <-> delta encoding of the reference detector (no +1 in widths)."""
import math

import paddle

__all__ = ['encode_deltas', 'decode_deltas', 'MAX_LOG_RATIO']

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
    deltas = deltas * paddle.to_tensor(stds, dtype=deltas.dtype) + \
        paddle.to_tensor(means, dtype=deltas.dtype)
    ax, ay, aw, ah = _center_size(anchors)
    cx = ax + deltas[..., 0] * aw
    cy = ay + deltas[..., 1] * ah
    w = aw * paddle.exp(deltas[..., 2].clip(-MAX_LOG_RATIO, MAX_LOG_RATIO))
    h = ah * paddle.exp(deltas[..., 3].clip(-MAX_LOG_RATIO, MAX_LOG_RATIO))
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
