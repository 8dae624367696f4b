"""Reading and rewriting an exported program's ``model.json``.

``paddle.jit.save`` under PIR (Paddle 3.x; file format ``base_code.version``
4 in 3.3.1) writes ops as dicts ``{"#": "1.<name>", "A": [attributes], ...}``
nested in regions/blocks; an attribute is ``{"N": name, "AT": {"#": type,
"D": value}}``, a double ``0.a_f64``, a float ``0.a_f32``, an array
``0.a_array``.  Not a documented format: ``tests/deploy/test_pir_json.py``
checks it against the installed Paddle.
"""
import numpy as np

__all__ = ['pir_json_op_names', 'pir_json_float_interp_scales']


def _pir_ops(node):
    """Every op dict of a loaded ``model.json``, depth first."""
    if isinstance(node, dict):
        if isinstance(node.get('#'), str) and isinstance(node.get('A'), list):
            yield node
        for value in node.values():
            yield from _pir_ops(value)
    elif isinstance(node, list):
        for value in node:
            yield from _pir_ops(value)


def pir_json_op_names(program):
    """Names (``'multiclass_nms3'``, ...) of the ops of a loaded ``model.json``."""
    return [op['#'].split('.', 1)[-1] for op in _pir_ops(program)]


def pir_json_float_interp_scales(program):
    """Make the ``scale`` of every ``nearest_interp``/``bilinear_interp`` op
    an array of floats instead of doubles, in place; returns how many ops
    changed.

    The op's definition declares ``float[] scale``, but the exported program
    stores the FPN's ``scale_factor=2.`` as doubles, which paddle2onnx 2.1.0
    (and Paddle 3.3.1's oneDNN executor) cannot read.

    Raises:
        ValueError: a scale that float32 does not hold exactly (the rewrite
            would change what the op computes).
    """
    changed = 0
    for op in _pir_ops(program):
        if not op['#'].endswith('_interp'):
            continue
        for attr in op['A']:
            value = attr.get('AT', {})
            if attr.get('N') == 'scale' and value.get('#') == '0.a_array':
                doubles = [e for e in value['D'] if e.get('#') == '0.a_f64']
                for element in doubles:
                    if float(np.float32(element['D'])) != element['D']:
                        raise ValueError('{}: scale {!r} is not exact in '
                                         'float32'.format(op['#'], element['D']))
                    element['#'] = '0.a_f32'
                changed += bool(doubles)
    return changed
