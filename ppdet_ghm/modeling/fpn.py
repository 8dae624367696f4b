"""PaddleDetection's FPN whose top-down path upsamples without an
interpolation op, so that its exported program runs under Paddle
Inference with oneDNN.

Paddle 3.3.1's oneDNN executor cannot read the ``scale`` attribute of
``nearest_interp`` (an array of doubles, also when ``size`` is given), and
paddle2onnx 2.1.0 cannot either; a program built from PaddleDetection's
``FPN`` therefore runs on the CPU only with oneDNN off (R50 at 800x1333: 2.2x slower) and
fails in PaddleDetection's own deploy client.  Nearest x2 upsampling is a
copy of each value into a 2x2 block (unsqueeze, expand, flatten): the same
values to the bit, no interpolation op.

:class:`GHMRetinaFPN` is ``FPN`` with that upsampling in the static graph
(what export traces); in dygraph (training, evaluation) it keeps Paddle's
``nearest_interp``, whose gradient sums each 2x2 block in another order
than the copy's would (they differ in the last bit), so training is
bit-identical to ``FPN``'s.  Same arguments, layers, parameter names and
weights (checkpoints, the mmdetection converter and resume are unchanged);
the configs use it.
"""
import paddle
import paddle.nn.functional as F
from ppdet.modeling.necks.fpn import FPN

from ..registry import register

__all__ = ['GHMRetinaFPN', 'upsample_nearest_2x']


def upsample_nearest_2x(x):
    """``(B, C, H, W)`` -> ``(B, C, 2H, 2W)``, each value copied into a 2x2
    block: ``F.interpolate(x, scale_factor=2., mode='nearest')``, written
    without the interpolation op when a static graph is being built."""
    if paddle.in_dynamic_mode():
        return F.interpolate(x, scale_factor=2., mode='nearest')
    # (B, C, H, 1, W, 1) -> (B, C, H, 2, W, 2) -> (B, C, 2H, 2W); not
    # repeat_interleave, which paddle2onnx 2.1.0 turns into a wrong Tile
    blocks = x.unsqueeze([3, 5]).expand([-1, -1, -1, 2, -1, 2])
    return blocks.flatten(2, 3).flatten(3, 4)


@register
class GHMRetinaFPN(FPN):
    """``FPN`` (``ppdet.modeling.necks.fpn``; same arguments) whose top-down
    upsampling is :func:`upsample_nearest_2x`."""

    def forward(self, body_feats):
        """
        Args:
            body_feats (list[Tensor]): C3..C5, ``(B, C_l, H_l, W_l)``, each
                level half the size of the one before.

        Returns:
            list[Tensor]: P3..P5 and the extra levels, ``(B, out_channel,
            H, W)``, as ``FPN.forward`` returns them.
        """
        laterals = [conv(feat) for conv, feat in zip(self.lateral_convs, body_feats)]
        for level in range(len(laterals) - 1, 0, -1):     # top-down
            laterals[level - 1] = laterals[level - 1] + upsample_nearest_2x(
                laterals[level])
        outputs = [conv(lateral) for conv, lateral in
                   zip(self.fpn_convs, laterals)]
        if self.extra_stage > 0:
            outputs += self._extra_levels(body_feats[-1], outputs[-1],
                                          len(laterals))
        return outputs

    def _extra_levels(self, top_input, top_output, num_levels):
        """P6, P7...: a max pool of the top output without extra convs;
        with them, convs from C5 (``use_c5``) or P5, then from each new
        level (after a ReLU with ``relu_before_extra_convs``)."""
        if not self.has_extra_convs:
            if self.extra_stage != 1:
                raise ValueError('GHMRetinaFPN: extra_stage must be 1 without '
                                 'extra convs, got {}'.format(self.extra_stage))
            return [F.max_pool2d(top_output, 1, stride=2)]
        levels = [self.fpn_convs[num_levels](
            top_input if self.use_c5 else top_output)]
        for i in range(1, self.extra_stage):
            source = F.relu(levels[-1]) if self.relu_before_extra_convs \
                else levels[-1]
            levels.append(self.fpn_convs[num_levels + i](source))
        return levels
