"""The R50 GHM training config trains what mmdetection's RetinaNet-GHM trains:
the same 162 tensors, each at lr x1 with the optimizer's weight
decay 1e-4.  The reference side is derived from mmdetection's architecture
(tests/conversion/torch_checkpoint_writer.py, independently of the model) and
its training rules: ``frozen_stages=1`` freezes the stem and stage 1,
``norm_eval=True`` freezes every BatchNorm's statistics, ``requires_grad=True``
keeps BatchNorm weight and bias trainable, and the 1x schedule's optimizer
(no ``paramwise_cfg``) gives every parameter lr x1 and weight decay 1e-4.
Converted mmdetection weights load into that model, and eval outputs are
those of PaddleDetection's ResNet with the same weights."""
import copy
import os

import numpy as np
import paddle
import pytest
import torch_checkpoint_writer as writer
from conftest import config_and_model, workspace_snapshot

from ppdet_ghm.conversion.mmdet_retinanet import (convert_mmdet_state_dict,
                                                  mmdet_key_pairs)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TRAIN = 'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml'
COMPAT = 'configs/ghm/mmdet_compat/retinanet_ghm_r50_fpn_1x_coco.yml'
STATISTICS = ('running_mean', 'running_var', 'num_batches_tracked')
FROZEN = ('backbone.conv1.', 'backbone.bn1.', 'backbone.layer1.')


def reference_trainable(shapes):
    """mmdetection keys of the parameters its R50 RetinaNet-GHM trains."""
    return [k for k in shapes if not k.endswith(STATISTICS) and not k.startswith(FROZEN)]


@pytest.fixture(scope='module')
def r50_train():
    """The R50 training config and its model (random init), full size."""
    from ppdet.core.workspace import AttrDict
    with workspace_snapshot():
        cfg, model = config_and_model(TRAIN, overrides={'pretrain_weights': None})
        cfg = AttrDict(**{k: copy.deepcopy(dict(v)) if isinstance(v, dict) else
                        copy.deepcopy(v) for k, v in cfg.items()})
    return cfg, model


def test_r50_trains_the_reference_tensors_at_the_reference_lr_and_decay(r50_train):
    from ppdet.core.workspace import create
    cfg, model = r50_train
    reference = reference_trainable(writer.mmdet_retinanet_shapes(50))
    assert len(reference) == 162
    to_paddle = {mmdet: ours for ours, mmdet in mmdet_key_pairs(model)}
    expected = {to_paddle[key] for key in reference}
    trainable = {n: p for n, p in model.named_parameters() if not p.stop_gradient}
    assert set(trainable) == expected
    # tensor groups: 84 BatchNorm weight/bias of stages 2-4 among them
    assert len([n for n in trainable if '.norm.' in n and n.startswith('backbone.')]) == 84
    # lr x1 for all (PaddleDetection's tower biases would be x2) and no
    # parameter-level regularizer, so the optimizer's L2 1e-4 applies to all
    assert {p.optimize_attr['learning_rate'] for p in trainable.values()} == {1.0}
    assert [n for n, p in trainable.items() if p.regularizer is not None] == []
    assert cfg.OptimizerBuilder['regularizer'] == {'type': 'L2', 'factor': 0.0001}
    with workspace_snapshot():     # the config's OptimizerBuilder, as the Trainer builds it
        from ppdet.core.workspace import load_config
        load_config(os.path.join(ROOT, TRAIN))
        optimizer = create('OptimizerBuilder')(0.01, model)
    assert {id(p) for p in optimizer._parameter_list} == {id(p) for p in trainable.values()}
    # Momentum keeps the global L2 as a fused decay (attributes of Paddle
    # 3.3.1's optimizer, read here only)
    assert (optimizer._regularization_method, optimizer._regularization_coeff) == (
        'l2_decay', pytest.approx(1e-4))


def test_converted_weights_load_into_the_training_model(r50_train, tmp_path):
    from ppdet.utils.checkpoint import load_weight
    _, model = r50_train
    shapes = writer.mmdet_retinanet_shapes(50)
    state = writer.random_state_dict(shapes)
    result = convert_mmdet_state_dict(state, model)
    before = {n for n, p in model.named_parameters() if not p.stop_gradient}
    path = str(tmp_path / 'converted_r50.pdparams')
    paddle.save({k: paddle.to_tensor(v) for k, v in result.weights.items()}, path)
    load_weight(model, path)
    assert {n for n, p in model.named_parameters() if not p.stop_gradient} == before
    weights = model.state_dict()
    for ours, mmdet in mmdet_key_pairs(model):
        np.testing.assert_array_equal(weights[ours].numpy(), state[mmdet], err_msg=ours)


def test_eval_outputs_equal_ppdets_resnet_to_the_bit():
    # the mmdetection-compatible test-time R50 config as shipped, and with
    # PaddleDetection's ResNet in place of FrozenStatsResNet: same weights,
    # same detections
    with workspace_snapshot():
        cfg, ours = config_and_model(COMPAT, overrides=None)
        block = {k: v for k, v in dict(cfg.FrozenStatsResNet).items()
                 if k not in ('train_norm_affine', 'norm_decay')}
    with workspace_snapshot():
        _, theirs = config_and_model(COMPAT, {'RetinaNet': {'backbone': 'ResNet'},
                                              'ResNet': block})
    assert type(ours.backbone).__name__ == 'FrozenStatsResNet'
    assert type(theirs.backbone).__name__ == 'ResNet'
    # logits around 0 instead of the prior's -4.6: detections above 0.05
    ours.head.retina_cls.bias.set_value(paddle.zeros_like(ours.head.retina_cls.bias))
    missing, unexpected = theirs.set_state_dict(ours.state_dict())
    assert not missing and not unexpected
    paddle.seed(3)
    inputs = {'image': paddle.randn([2, 3, 128, 160]),
              'im_shape': paddle.to_tensor([[128., 160.], [128., 160.]]),
              'scale_factor': paddle.to_tensor([[1., 1.], [0.5, 0.5]])}
    for model in (ours, theirs):
        model.eval()
    a, b = ours(inputs), theirs(inputs)
    assert int(a['bbox_num'].sum()) > 0
    for key in ('bbox', 'bbox_num'):
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
