"""Convert one mmdetection checkpoint file for a built model and write it.

:func:`convert_checkpoint` is the whole job of
``tools/convert_mmdet_weights.py``: read (:mod:`.torch_checkpoint`), map
(:mod:`.mmdet_retinanet`), compare class names, save, then check the saved
file strictly against the model, as ``tools/eval.py`` will.
"""
import os
from dataclasses import dataclass, field
from typing import List

import paddle

from ..compat import coco17_class_names
from ..utils.weights import WeightsError, check_weights_cover_model
from .mmdet_retinanet import compare_class_names, convert_mmdet_state_dict
from .torch_checkpoint import TorchCheckpointError, load_state_dict

__all__ = ['ConversionReport', 'convert_checkpoint', 'class_names_line']


@dataclass
class ConversionReport:
    """What :func:`convert_checkpoint` did.

    path: the written ``.pdparams`` file.
    num_weights: number of keys written (every key of the model).
    lines: the human-readable account, one entry per printed line: the
        format, what was skipped and filled and why, the class names.
    """
    path: str
    num_weights: int
    lines: List[str] = field(default_factory=list)


def class_names_line(meta, cfg):
    """A line about the checkpoint's class names vs the config's dataset."""
    classes = meta.get('CLASSES') if isinstance(meta, dict) else None
    if not isinstance(classes, (list, tuple)):
        return 'class names: the checkpoint has none (meta CLASSES); not checked'
    if cfg.get('metric') != 'COCO' or cfg.get('num_classes') != 80:
        return ('class names: {} in the checkpoint; not compared (the config '
                'is not COCO with 80 classes)'.format(len(classes)))
    problem = compare_class_names(classes, coco17_class_names())
    if problem:
        return 'WARNING class names: ' + problem
    return ("class names: the checkpoint's 80 meta CLASSES are PaddleDetection's "
            "COCO classes in the same order")


def _report_lines(src, state, info, result, cfg, verbose):
    lines = ["read {} ({} torch format): {} tensors in its state_dict".format(
        src, info['format'], len(state))]
    for key, reason in info['skipped'].items():
        lines.append("  top-level entry '{}' skipped: {}".format(key, reason))
    if result.prefix:
        lines.append("  stripped the prefix '{}' from every key".format(
            result.prefix))
    lines.append('converted {} tensors to the model of {} (conv weights keep '
                 'their OIHW layout; BN running_mean/var -> _mean/_variance)'
                 .format(len(result.pairs), cfg.get('_config_path')))
    by_reason = {}
    for key, reason in result.skipped.items():
        by_reason.setdefault(reason, []).append(key)
    lines.append('skipped {} checkpoint tensors:'.format(len(result.skipped)))
    for reason, keys in by_reason.items():
        lines.append('  {} x {}: {}'.format(
            len(keys), keys[0].rsplit('.', 1)[-1], reason))
        if verbose:
            lines.extend('    ' + key for key in keys)
    lines.append('filled {} model keys that the checkpoint does not have:'
                 .format(len(result.filled)))
    for key, reason in result.filled.items():
        lines.append('  {} {}: {}'.format(
            key, list(result.weights[key].shape), reason))
    lines.append(class_names_line(info['meta'], cfg))
    return lines


def convert_checkpoint(src, dst, model, cfg, verbose=False):
    """Convert the mmdetection checkpoint ``src`` for ``model``; write ``dst``.

    Args:
        src (str): a ``torch.save`` file (mmcv checkpoint or bare state dict).
        dst (str): output path; ``.pdparams`` is appended when missing.
        model: the built model of ``cfg`` (eval mode is not required).
        cfg: the loaded config (``metric``, ``num_classes`` and
            ``_config_path`` are read for the report).
        verbose (bool): list every skipped checkpoint tensor.

    Returns:
        ConversionReport.

    Raises:
        WeightsError (ConversionError, or TorchCheckpointError re-raised as
        one): unreadable checkpoint, a checkpoint that does not cover the
        model one-to-one, or a written file that fails the strict check.
        The message starts with ``src``.  Nothing is written unless the
        conversion succeeded.
    """
    try:
        state, info = load_state_dict(src)
        result = convert_mmdet_state_dict(state, model)
    except (TorchCheckpointError, WeightsError) as err:
        raise WeightsError('{}: {}'.format(src, err)) from err
    lines = _report_lines(src, state, info, result, cfg, verbose)
    path = dst if dst.endswith('.pdparams') else dst + '.pdparams'
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    paddle.save({k: paddle.to_tensor(v) for k, v in result.weights.items()},
                path)
    check_weights_cover_model(model, path)
    return ConversionReport(path, len(result.weights), lines)
