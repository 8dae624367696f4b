"""ppdet_ghm.modeling.fpn: GHMRetinaFPN is PaddleDetection's FPN to the bit
(same parameters and names) on the configs' input sizes, and its program
has no interpolation op."""
import numpy as np
import paddle
import pytest
from ppdet.modeling.necks.fpn import FPN

from ppdet_ghm.modeling import GHMRetinaFPN
from ppdet_ghm.modeling.fpn import upsample_nearest_2x

# (C3..C5 channels, out_channel, FPN settings, padded input H x W): the R50
# COCO configs at 800x1333 padded to stride 32, the demo at 128x128, and a
# non-square case with PaddleDetection's P6-from-P5 settings
CASES = [
    ([512, 1024, 2048], 256, dict(use_c5=True, relu_before_extra_convs=False), (800, 1344)),
    ([64, 128, 256], 64, dict(use_c5=True, relu_before_extra_convs=False), (128, 128)),
    ([32, 64, 128], 16, dict(use_c5=False, relu_before_extra_convs=True), (96, 160)),
]


def test_the_static_upsampling_equals_nearest_interpolation_to_the_bit():
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal(
        (2, 3, 5, 7)).astype('float32'))
    expected = paddle.nn.functional.interpolate(x, scale_factor=2., mode='nearest')
    static = paddle.jit.to_static(upsample_nearest_2x, full_graph=True)
    np.testing.assert_array_equal(static(x).numpy(), expected.numpy())


@pytest.mark.parametrize('channels, out, settings, size', CASES)
def test_outputs_equal_ppdet_fpn_to_the_bit(channels, out, settings, size):
    kwargs = dict(in_channels=channels, out_channel=out,
                  spatial_scales=[0.125, 0.0625, 0.03125], extra_stage=2,
                  has_extra_convs=True, **settings)
    paddle.seed(1)
    theirs = FPN(**kwargs)
    ours = GHMRetinaFPN(**kwargs)
    assert [n for n, _ in ours.named_parameters()] == \
        [n for n, _ in theirs.named_parameters()]
    ours.set_state_dict(theirs.state_dict())
    rng = np.random.default_rng(2)
    h, w = size
    feats = [paddle.to_tensor(rng.standard_normal(
        (1, c, h // s, w // s)).astype('float32'))
        for c, s in zip(channels, (8, 16, 32))]
    theirs.eval()
    ours.eval()
    with paddle.no_grad():
        expected, got = theirs(feats), ours(feats)
    assert len(got) == len(expected) == 5
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # training: the same gradients to the bit
    theirs.train()
    ours.train()
    grads = []
    for neck in (theirs, ours):
        loss = sum((out * out).mean() for out in neck(feats))
        grads.append([g.numpy() for g in paddle.grad(loss, neck.parameters())])
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_the_exported_program_has_no_interpolation_op_and_the_same_outputs(tmp_path):
    import json

    from ppdet_ghm.deploy.pir_json import pir_json_op_names
    neck = GHMRetinaFPN(in_channels=[8, 16, 32], out_channel=8,
                        spatial_scales=[0.125, 0.0625, 0.03125], extra_stage=2,
                        has_extra_convs=True)
    neck.eval()
    rng = np.random.default_rng(3)
    feats = [paddle.to_tensor(rng.standard_normal((1, c, s, s)).astype('float32'))
             for c, s in ((8, 16), (16, 8), (32, 4))]
    with paddle.no_grad():
        expected = [out.numpy() for out in neck(feats)]
    spec = [[paddle.static.InputSpec([None, c, s, s], 'float32')
             for c, s in ((8, 16), (16, 8), (32, 4))]]
    paddle.jit.save(paddle.jit.to_static(neck, input_spec=spec, full_graph=True),
                    str(tmp_path / 'model'))
    with open(tmp_path / 'model.json') as f:
        names = pir_json_op_names(json.load(f))
    assert 'expand' in names
    assert not [n for n in names if n.endswith('_interp')]
    loaded = paddle.jit.load(str(tmp_path / 'model'))
    for a, b in zip(loaded(*feats), expected):
        np.testing.assert_array_equal(a.numpy(), b)
