"""ppdet_ghm.deploy.pir_json against the model.json Paddle writes."""
import json

import paddle
import paddle.nn.functional as F

from ppdet_ghm.deploy.pir_json import pir_json_op_names


def test_op_names_of_a_saved_program(tmp_path):
    # fails by name if Paddle's model.json format changes
    class Upsample(paddle.nn.Layer):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2., mode='nearest') + 1.0
    paddle.jit.save(paddle.jit.to_static(Upsample(), full_graph=True, input_spec=[
        paddle.static.InputSpec([None, 3, 4, 4], 'float32', 'x')]),
        str(tmp_path / 'model'))
    with open(tmp_path / 'model.json') as f:
        names = pir_json_op_names(json.load(f))
    assert 'nearest_interp' in names and 'scale' in names
