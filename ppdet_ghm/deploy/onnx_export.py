"""An exported Paddle model to ONNX, with paddle2onnx.

The route that gives the Paddle model's detections (docs/deployment.md):
export without NMS (``tools/export_model.py --onnx``, which calls this),
convert the network, and let the runner apply the same NMS
(:mod:`.nms`).  With paddle2onnx 2.1.0 ``multiclass_nms3`` converts, but
its ONNX rows for classes other than 0 carry other scores and boxes than
Paddle's kernel keeps (class 0 rows agree), so a program with NMS is refused
here.  (The FPN's upsampling exports without ``nearest_interp``, whose
double-array ``scale`` the converter cannot read: ``GHMRetinaFPN``.)

paddle2onnx 2.1.0 also converts ``group_norm`` wrongly, and differently from
one conversion to the next: its ``InstanceNormalization`` gets an epsilon
read from uninitialised memory, not the layer's (ONNX Runtime then off by
several units, NaN, or right when that number happens to be tiny; the demo's
GroupNorm towers): an export for ONNX traces every GroupNorm as
primitive ops instead (:func:`primitive_group_norms`), which convert
correctly and give the kernel's values to float rounding.
"""
import contextlib
import json
import os

from .infer_config import DeployError, model_files
from .pir_json import pir_json_op_names

__all__ = ['ONNX_FILE', 'export_onnx', 'group_norm_primitives',
           'primitive_group_norms']

ONNX_FILE = 'model.onnx'


def group_norm_primitives(layer, x):
    """``layer(x)`` for a ``paddle.nn.GroupNorm`` (NCHW), written with
    reshape, mean, variance and affine ops: ``(N, C, H, W)`` ->
    ``(N, G, C/G * H * W)``, normalised per group with the biased variance
    and ``layer._epsilon``, back to ``(N, C, H, W)``, then scaled and
    shifted per channel."""
    import paddle
    groups = layer._num_groups
    grouped = x.reshape([0, groups, -1])
    centred = grouped - grouped.mean(axis=2, keepdim=True)
    variance = centred.square().mean(axis=2, keepdim=True)
    y = (centred / paddle.sqrt(variance + layer._epsilon)).reshape(paddle.shape(x))
    if layer.weight is not None:
        y = y * layer.weight.reshape([1, -1, 1, 1])
    if layer.bias is not None:
        y = y + layer.bias.reshape([1, -1, 1, 1])
    return y


@contextlib.contextmanager
def primitive_group_norms(model):
    """Within the block, every ``paddle.nn.GroupNorm`` of ``model`` runs
    :func:`group_norm_primitives` (for tracing an export that paddle2onnx
    converts); the layers' own forward is back after it."""
    import paddle.nn as nn
    patched = [layer for layer in model.sublayers() if isinstance(layer, nn.GroupNorm)]
    for layer in patched:
        layer.forward = (lambda x, layer=layer: group_norm_primitives(layer, x))
    try:
        yield len(patched)
    finally:
        for layer in patched:
            del layer.forward


def export_onnx(model_dir, opset_version=11):
    """Write ``model_dir/model.onnx`` from the Paddle files of an export
    made without NMS; returns its path.

    Raises:
        DeployError: no such export, a program with NMS in it, or
            paddle2onnx not installed (``pip install -c constraints.txt -e ".[deploy]"``).
    """
    program, params = model_files(model_dir)
    if not program.endswith('.json'):
        raise DeployError('{}: ONNX export reads the PIR program model.json '
                          '(Paddle 3 exports)'.format(model_dir))
    try:
        import paddle2onnx
    except ImportError as err:
        raise DeployError('ONNX export needs paddle2onnx: pip install -e '
                          '".[deploy]" with -c constraints.txt ({})'.format(err)) from err
    with open(program) as f:
        graph = json.load(f)
    if 'multiclass_nms3' in pir_json_op_names(graph):
        raise DeployError(
            "{}: exported with NMS in the program; paddle2onnx 2.1.0 converts "
            "multiclass_nms3 wrongly for classes other than 0, so export "
            "without it: tools/export_model.py --onnx (docs/deployment.md)"
            .format(model_dir))
    save_file = os.path.join(model_dir, ONNX_FILE)
    paddle2onnx.export(program, params, save_file, opset_version=opset_version,
                       enable_onnx_checker=True)
    if not os.path.isfile(save_file):
        raise DeployError('paddle2onnx wrote no {}'.format(save_file))
    return save_file
