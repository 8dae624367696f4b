"""FrozenStatsResNet: PaddleDetection's ResNet whose BatchNorm statistics stay
frozen while the BatchNorm weight and bias of the trainable stages learn."""
import numpy as np
import paddle
import pytest

from ppdet_ghm.modeling import FrozenStatsResNet


def norm_params(model):
    """name -> parameter of every BatchNorm weight/bias (Paddle lists the
    running statistics as parameters too)."""
    return {n: p for n, p in model.named_parameters()
            if n.endswith(('.norm.weight', '.norm.bias'))}


def stage_of(name):
    return name.split('.')[0]      # conv1 (stem), res2 .. res5


def test_a_training_step_moves_weight_and_bias_not_statistics():
    paddle.seed(0)
    model = FrozenStatsResNet(depth=18, return_idx=[1, 2, 3])
    # running statistics away from 0/1, so that an update would show
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.BatchNorm2D):
            layer._mean.set_value(0.1 * paddle.rand(layer._mean.shape))
            layer._variance.set_value(1 + 0.1 * paddle.rand(layer._variance.shape))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.train()
    optimizer = paddle.optimizer.SGD(
        0.1, parameters=[p for p in model.parameters() if not p.stop_gradient])
    loss = sum((out ** 2).mean() for out in model(
        {'image': paddle.randn([2, 3, 64, 64])}))
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    moved = {k for k in before if not np.array_equal(before[k], after[k].numpy())}
    statistics = [k for k in before if k.endswith(('_mean', '_variance'))]
    assert statistics and not moved & set(statistics)
    trained_norm = {n for n in norm_params(model) if stage_of(n) in ('res3', 'res4', 'res5')}
    assert len(trained_norm) == 30 and trained_norm <= moved
    # stem and res2 (freeze_at 0): nothing moves
    assert not {k for k in moved if stage_of(k) in ('conv1', 'res2')}


def test_statistics_are_used_in_training_as_in_eval():
    paddle.seed(1)
    model = FrozenStatsResNet(depth=18, return_idx=[3])
    image = {'image': paddle.randn([2, 3, 64, 64])}
    model.train()
    train_out = model(image)[0].numpy()
    model.eval()
    np.testing.assert_array_equal(train_out, model(image)[0].numpy())


def test_without_train_norm_affine_it_is_ppdets_resnet():
    from ppdet.modeling.backbones.resnet import ResNet
    paddle.seed(2)
    ours = FrozenStatsResNet(depth=18, train_norm_affine=False, norm_decay=0)
    theirs = ResNet(depth=18)
    trainable = lambda m: [n for n, p in m.named_parameters() if not p.stop_gradient]
    assert trainable(ours) == trainable(theirs)
    assert not [n for n in trainable(ours) if '.norm.' in n]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_lr_multiplier_and_decay_of_the_norm_parameters():
    model = FrozenStatsResNet(depth=18, lr_mult_list=[1.0, 0.5, 0.25, 0.1])
    params = norm_params(model)
    lr = {stage_of(n): p.optimize_attr['learning_rate'] for n, p in params.items()
          if not p.stop_gradient}
    assert lr == {'res3': 0.5, 'res4': 0.25, 'res5': 0.1}
    assert all(p.regularizer is None for p in params.values() if not p.stop_gradient)
    decayed = FrozenStatsResNet(depth=18, norm_decay=1e-3)
    coeffs = {p.regularizer._coeff for p in norm_params(decayed).values()
              if not p.stop_gradient}
    assert coeffs == {1e-3}


def test_freeze_at_decides_which_norms_train():
    everything = FrozenStatsResNet(depth=18, freeze_at=-1)
    assert {stage_of(n) for n, p in norm_params(everything).items()
            if not p.stop_gradient} == {'conv1', 'res2', 'res3', 'res4', 'res5'}
    late = FrozenStatsResNet(depth=18, freeze_at=2)
    assert {stage_of(n) for n, p in norm_params(late).items()
            if not p.stop_gradient} == {'res5'}


def test_batch_statistics_are_refused_by_name():
    with pytest.raises(ValueError, match=r'FrozenStatsResNet.freeze_norm: got False; '
                       r'.*use ResNet with freeze_norm: false'):
        FrozenStatsResNet(depth=18, freeze_norm=False)
