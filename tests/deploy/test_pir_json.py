"""ppdet_ghm.deploy.pir_json against the model.json Paddle writes."""
import json

import paddle
import paddle.nn.functional as F
import pytest

from ppdet_ghm.deploy.pir_json import (pir_json_float_interp_scales,
                                       pir_json_op_names)


def test_pir_json_interp_scales_become_floats(tmp_path):
    # An upsampling like the FPN's, saved as PIR JSON: its scale is an array
    # of doubles (what paddle2onnx 2.1.0 and oneDNN cannot read); the rewrite
    # makes it floats.  Fails by name if the format or the finding changes.

    class Upsample(paddle.nn.Layer):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2., mode='nearest')
    paddle.jit.save(paddle.jit.to_static(Upsample(), full_graph=True, input_spec=[
        paddle.static.InputSpec([None, 3, 4, 4], 'float32', 'x')]),
        str(tmp_path / 'model'))
    with open(tmp_path / 'model.json') as f:
        program = json.load(f)
    assert 'nearest_interp' in pir_json_op_names(program)
    assert '"0.a_f64", "D": 2.0' in json.dumps(program)
    assert pir_json_float_interp_scales(program) == 1
    text = json.dumps(program)
    assert '"0.a_f32", "D": 2.0' in text and '0.a_f64' not in text
    assert pir_json_float_interp_scales(program) == 0       # nothing left

    inexact = {'#': '1.nearest_interp', 'A': [{'N': 'scale', 'AT': {
        '#': '0.a_array', 'D': [{'#': '0.a_f64', 'D': 0.1}]}}]}
    with pytest.raises(ValueError, match=r'1.nearest_interp: scale 0.1 is not '
                       'exact in float32'):
        pir_json_float_interp_scales([inexact])
