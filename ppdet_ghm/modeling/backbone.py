"""PaddleDetection's ResNet with the reference's BatchNorm: statistics frozen,
weight and bias trained.

mmdetection builds the GHM detector's backbone with ``norm_cfg=dict(type='BN',
requires_grad=True)`` and ``norm_eval=True``: every BatchNorm layer uses and
keeps its running statistics in training, as in eval, while its weight and
bias learn like any parameter (lr x1, the optimizer's weight decay 1e-4: the
1x schedule has no ``paramwise_cfg``, so mmcv's ``DefaultOptimizerConstructor``
gives all parameters the global settings).  Frozen stages (``frozen_stages=1``:
stem and stage 1) freeze everything.

PaddleDetection's ``ResNet`` offers ``freeze_norm: true`` (statistics *and*
affine frozen) or ``false`` (batch statistics in training, which is
mmdetection's ``norm_eval=False``), not this.  :class:`FrozenStatsResNet` is
``ResNet`` with ``freeze_norm: true`` whose BatchNorm weight and bias in the
stages after ``freeze_at`` are made trainable again after it is built: the
layers, names, weights and eval outputs are ``ResNet``'s.
"""
from ppdet.modeling.backbones.resnet import ConvNormLayer, ResNet
from paddle.regularizer import L2Decay

from ..registry import register

__all__ = ['FrozenStatsResNet']


@register
class FrozenStatsResNet(ResNet):
    """``ResNet`` whose BatchNorm statistics are frozen and whose BatchNorm
    weight and bias train (mmdetection's ``norm_eval=True`` with
    ``requires_grad=True``).

    Args (besides ``ResNet``'s, with the same meaning and defaults):
        train_norm_affine (bool): train the BatchNorm weight and bias of the
            stages that ``freeze_at`` leaves trainable, at the stage's lr
            multiplier (``lr_mult_list``).  ``False``: PaddleDetection's
            ``ResNet`` with ``freeze_norm: true`` exactly.
        norm_decay (float or None): their weight decay; ``None`` (default):
            the optimizer's, as the reference.  (``ResNet``'s default is 0.)
        freeze_norm: must stay ``True`` (the statistics are frozen by it).
    """
    __shared__ = ['norm_type']

    def __init__(self,
                 depth=50,
                 ch_in=64,
                 variant='b',
                 lr_mult_list=[1.0, 1.0, 1.0, 1.0],
                 groups=1,
                 base_width=64,
                 norm_type='bn',
                 norm_decay=None,
                 freeze_norm=True,
                 freeze_at=0,
                 return_idx=[0, 1, 2, 3],
                 dcn_v2_stages=[-1],
                 num_stages=4,
                 std_senet=False,
                 train_norm_affine=True):
        if freeze_norm is not True:
            raise ValueError(
                'FrozenStatsResNet.freeze_norm: got {!r}; the running statistics '
                'are frozen through it, so it must be true (for batch statistics '
                'in training use ResNet with freeze_norm: false)'.format(freeze_norm))
        super(FrozenStatsResNet, self).__init__(
            depth=depth, ch_in=ch_in, variant=variant, lr_mult_list=lr_mult_list,
            groups=groups, base_width=base_width, norm_type=norm_type,
            norm_decay=0. if norm_decay is None else norm_decay,
            freeze_norm=True, freeze_at=freeze_at, return_idx=return_idx,
            dcn_v2_stages=dcn_v2_stages, num_stages=num_stages,
            std_senet=std_senet)
        self.train_norm_affine = bool(train_norm_affine)
        if self.train_norm_affine:
            self._train_norm_affine(norm_decay)

    def _train_norm_affine(self, norm_decay):
        regularizer = None if norm_decay is None else L2Decay(norm_decay)
        for layer in self.sublayers():
            # ResNet froze the stem and the stages up to freeze_at, conv and
            # norm alike: a layer whose conv trains is in a trainable stage
            if not isinstance(layer, ConvNormLayer) or layer.conv.weight.stop_gradient:
                continue
            # the conv of the same layer carries the stage's lr multiplier
            lr = layer.conv.weight.optimize_attr['learning_rate']
            for param in (layer.norm.weight, layer.norm.bias):
                param.stop_gradient = False
                param.optimize_attr['learning_rate'] = lr
                param.regularizer = regularizer
