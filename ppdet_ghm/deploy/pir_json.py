"""Reading an exported program's ``model.json``.

``paddle.jit.save`` under PIR (Paddle 3.x; file format ``base_code.version``
4 in 3.3.1) writes ops as dicts ``{"#": "1.<name>", "A": [attributes], ...}``
nested in regions/blocks; an attribute is ``{"N": name, "AT": {"#": type,
"D": value}}``, a double ``0.a_f64``, a float ``0.a_f32``, an array
``0.a_array``.  Not a documented format: ``tests/deploy/test_pir_json.py``
checks it against the installed Paddle.
"""
__all__ = ['pir_json_op_names']


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
