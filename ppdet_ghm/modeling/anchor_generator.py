"""RetinaNet anchors in the reference detector's order."""
import math
import numbers

import paddle
from ppdet.modeling.proposal_generator.anchor_generator import AnchorGenerator

from ..registry import register

__all__ = ['GHMRetinaAnchorGenerator']


def _positive_numbers(values):
    return isinstance(values, (list, tuple)) and len(values) > 0 and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0
        for v in values)


def _check_anchor_args(octave_base_scale, scales_per_octave, aspect_ratios,
                       strides):
    """ValueError naming the argument of a setting that leaves a level with
    no anchors or with empty ones."""
    name = 'GHMRetinaAnchorGenerator'
    if not _positive_numbers([octave_base_scale]):
        raise ValueError('{}.octave_base_scale: expected a number > 0 (anchor '
                         'size / stride), got {!r}'.format(name, octave_base_scale))
    if isinstance(scales_per_octave, bool) or not isinstance(
            scales_per_octave, numbers.Integral) or scales_per_octave < 1:
        raise ValueError('{}.scales_per_octave: expected an integer >= 1 (anchor '
                         'sizes per level), got {!r}'.format(name, scales_per_octave))
    if not _positive_numbers(aspect_ratios):
        raise ValueError('{}.aspect_ratios: expected a non-empty list of numbers '
                         '> 0 (h / w), got {!r}'.format(name, aspect_ratios))
    if not _positive_numbers(strides) or list(strides) != sorted(set(strides)):
        raise ValueError('{}.strides: expected a non-empty, increasing list of '
                         'numbers > 0 (one per FPN level), got {!r}'.format(
                             name, strides))


@register
class GHMRetinaAnchorGenerator(AnchorGenerator):
    """RetinaNet anchors: ``octave_base_scale * 2^(i / scales_per_octave)``
    times the level's stride, for every aspect ratio (h / w), centred on the
    grid points ``(x * stride, y * stride)``.

    Same boxes as PaddleDetection's ``RetinaAnchorGenerator``; the cell order
    is the reference's (mmdetection): ratio-major, scale-minor, so the output
    channels of ``retina_cls`` / ``retina_reg`` line up with published
    checkpoints.  Anchors of one level are ordered (y, x, cell).

    Args:
        octave_base_scale (float): anchor size / stride of the first scale.
        scales_per_octave (int): scales per level.
        aspect_ratios (list[float]): h / w ratios.
        strides (list[float]): strides of P3..P7.
    """

    def __init__(self, octave_base_scale=4, scales_per_octave=3,
                 aspect_ratios=[0.5, 1.0, 2.0],
                 strides=[8.0, 16.0, 32.0, 64.0, 128.0]):
        _check_anchor_args(octave_base_scale, scales_per_octave, aspect_ratios,
                           strides)
        self.octave_base_scale = octave_base_scale
        self.scales_per_octave = scales_per_octave
        sizes = [[s * octave_base_scale * 2**(i / scales_per_octave)
                  for i in range(scales_per_octave)] for s in strides]
        super().__init__(anchor_sizes=sizes, aspect_ratios=aspect_ratios,
                         strides=strides, offset=0.0)

    def generate_cell_anchors(self, sizes, aspect_ratios):
        """``(len(ratios) * len(sizes), 4)`` boxes centred at 0, ratio-major."""
        anchors = []
        for ratio in aspect_ratios:
            for size in sizes:
                w = size / math.sqrt(ratio)
                h = size * math.sqrt(ratio)
                anchors.append([-w / 2.0, -h / 2.0, w / 2.0, h / 2.0])
        return paddle.to_tensor(anchors, dtype='float32')
