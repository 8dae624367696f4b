"""ppdet_ghm.deploy.onnx_export: GroupNorm traced as primitive ops for ONNX.

paddle2onnx 2.1.0 converts the ``group_norm`` op wrongly; an export for ONNX
(``tools/export_model.py --onnx``) traces every GroupNorm as reshape / mean /
variance / affine ops instead, which convert to ONNX Runtime's values within
float rounding.  A model with GroupNorm towers (as the demo's) then gives the
dygraph detections under ONNX Runtime."""
import json
import os

import numpy as np
import pytest
from export_helpers import (assert_same, dygraph_detections, export,
                            save_spread_logit_model, tiny_export_config, val_images)

from ppdet_ghm.deploy import create_predictor
from ppdet_ghm.deploy.onnx_export import group_norm_primitives, primitive_group_norms
from ppdet_ghm.deploy.pir_json import pir_json_op_names


def _conv_group_norm(seed=0):
    """conv 3x3 (8 -> 16) + GroupNorm(4, 16) with an affine part far from
    the identity, in eval mode."""
    import paddle
    import paddle.nn as nn
    paddle.seed(seed)
    model = nn.Sequential(nn.Conv2D(8, 16, 3, padding=1), nn.GroupNorm(4, 16))
    model[1].weight.set_value(paddle.rand([16]) + 0.5)
    model[1].bias.set_value(paddle.rand([16]))
    model.eval()
    return model


def _inputs():
    return np.random.RandomState(0).randn(2, 8, 12, 10).astype('float32') * 3


@pytest.mark.parametrize('affine', [True, False])
def test_the_primitives_give_the_kernels_values(affine):
    import paddle
    import paddle.nn as nn
    paddle.seed(1)
    layer = nn.GroupNorm(4, 16, weight_attr=None if affine else False,
                         bias_attr=None if affine else False)
    if affine:
        layer.weight.set_value(paddle.rand([16]) + 0.5)
        layer.bias.set_value(paddle.rand([16]))
    x = paddle.to_tensor(np.random.RandomState(1).randn(3, 16, 5, 7).astype('float32'))
    np.testing.assert_allclose(group_norm_primitives(layer, x).numpy(),
                               layer(x).numpy(), atol=2e-6)


def test_within_the_block_every_group_norm_runs_the_primitives():
    import paddle
    model = _conv_group_norm()
    x = paddle.to_tensor(_inputs())
    kernel = model(x).numpy()
    with primitive_group_norms(model) as count:
        assert count == 1
        assert 'forward' in vars(model[1])
        np.testing.assert_allclose(model(x).numpy(), kernel, atol=1e-5)
    assert 'forward' not in vars(model[1])         # the layer's own forward back


def _save(model, folder):
    """jit.save ``model`` with a dynamic input shape; returns (prefix, op
    names of the program)."""
    import paddle
    prefix = os.path.join(folder, 'model')
    paddle.jit.save(paddle.jit.to_static(model, full_graph=True, input_spec=[
        paddle.static.InputSpec([-1, 8, -1, -1], 'float32', 'x')]), prefix)
    with open(prefix + '.json') as f:
        return prefix, pir_json_op_names(json.load(f))


def _convert_and_run(prefix, x, name='model.onnx'):
    """paddle2onnx of a saved program, run under ONNX Runtime."""
    import onnxruntime
    import paddle2onnx
    path = os.path.join(os.path.dirname(prefix), name)
    paddle2onnx.export(prefix + '.json', prefix + '.pdiparams', path, opset_version=11)
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _instance_norm_epsilons(path):
    import onnx
    return [attribute.f for node in onnx.load(path).graph.node
            if node.op_type == 'InstanceNormalization'
            for attribute in node.attribute if attribute.name == 'epsilon']


def test_paddle2onnx_still_writes_a_wrong_group_norm_epsilon_and_the_primitives_right(
        tmp_path):
    # paddle2onnx 2.1.0 maps group_norm to InstanceNormalization whose
    # epsilon it does not read from the program: every conversion writes
    # whatever float was in memory (seen: 0.0, 1e-34, -8e-7, 1.7e5, 2e25,
    # -1.7e18), so ONNX Runtime is right when that is tiny, off by several
    # units when it is large, NaN when negative.  The written epsilon is the
    # deterministic sign; an upgrade that writes the layer's 1e-5 fails here
    # (then the export for ONNX can keep the kernel).
    import paddle
    x = _inputs()
    model = _conv_group_norm()
    kernel = model(paddle.to_tensor(x)).numpy()
    prefix, ops = _save(model, str(tmp_path / 'kernel'))
    assert 'group_norm' in ops
    _convert_and_run(prefix, x, 'kernel.onnx')
    epsilons = _instance_norm_epsilons(str(tmp_path / 'kernel' / 'kernel.onnx'))
    assert len(epsilons) == 1
    assert epsilons[0] != np.float32(model[1]._epsilon), epsilons
    with primitive_group_norms(model):
        prefix, ops = _save(model, str(tmp_path / 'primitives'))
    assert 'group_norm' not in ops
    for attempt in range(3):    # the primitives convert right every time
        path = 'model{}.onnx'.format(attempt)
        np.testing.assert_allclose(_convert_and_run(prefix, x, path), kernel, atol=1e-4)
        assert _instance_norm_epsilons(str(tmp_path / 'primitives' / path)) == []


def test_an_export_for_onnx_of_group_norm_towers_gives_the_dygraph_detections(
        tmp_path, tiny_data):
    # the demo's towers: GroupNorm (32 groups) after each conv; 64 channels
    # keep 2 per group, so even the 1x1 top level normalises two values
    tmp = str(tmp_path)
    config = tiny_export_config(tmp, tiny_data, 'towers', extra="""\
GHMRetinaPostProcess: {max_per_img: 1000}
RetinaFeat: {feat_in: 16, feat_out: 64, num_convs: 2, norm_type: gn}
""")
    save_spread_logit_model(config, tmp, 20.)
    model_dir = export(config, os.path.join(tmp, 'export'), '--onnx')
    with open(os.path.join(model_dir, 'model.json')) as f:
        assert 'group_norm' not in pir_json_op_names(json.load(f))
    images = val_images(tiny_data)
    deployed = create_predictor(model_dir, 'onnxruntime').predict(images)
    assert sum(len(d.scores) for d in deployed) > 20
    assert_same(dygraph_detections(config, images), deployed)
