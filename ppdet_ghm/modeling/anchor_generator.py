"""RetinaNet anchors in the reference detector's order."""
import math

import paddle
from ppdet.modeling.proposal_generator.anchor_generator import AnchorGenerator

from ..registry import register

__all__ = ['GHMRetinaAnchorGenerator']


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
