"""``infer_cfg.yml`` of an exported model: preprocessing, class names, and
the NMS settings of a model exported without NMS."""
import glob
import os
from dataclasses import dataclass
from typing import List, Optional

import yaml

from .nms import check_nms_settings

__all__ = ['DeployError', 'InferConfig', 'load_infer_config', 'model_files']


class DeployError(ValueError):
    """An exported model folder or input that cannot be run."""


@dataclass
class InferConfig:
    """What the runner needs from ``infer_cfg.yml``.

    preprocess: the ``Preprocess`` list (dicts with ``type``).
    label_list: class names, index = class id.
    draw_threshold: the export's default score threshold for drawing.
    arch: the architecture name.
    nms: ``None`` when the program ends with NMS; else the settings the
        runner applies to its outputs (``score_threshold``,
        ``nms_threshold``, ``keep_top_k``; written by
        ``engine.export_model(..., exclude_nms=True)``).
    """
    preprocess: List[dict]
    label_list: List[str]
    draw_threshold: float = 0.5
    arch: str = ''
    nms: Optional[dict] = None


def model_files(model_dir):
    """``(program, params)`` paths of an export: ``model.json`` (PIR) or
    ``model.pdmodel``, and ``model.pdiparams``."""
    if not os.path.isdir(model_dir):
        raise DeployError("--model_dir: no directory '{}'".format(model_dir))
    programs = [p for p in (os.path.join(model_dir, 'model.json'),
                            os.path.join(model_dir, 'model.pdmodel'))
                if os.path.isfile(p)]
    params = os.path.join(model_dir, 'model.pdiparams')
    if not programs or not os.path.isfile(params):
        raise DeployError(
            "--model_dir: '{}' has no exported model (expected model.json or "
            "model.pdmodel, and model.pdiparams; found {})".format(
                model_dir, sorted(os.path.basename(p) for p in
                                  glob.glob(os.path.join(model_dir, '*')))))
    return programs[0], params


def load_infer_config(model_dir):
    """Read and check ``model_dir/infer_cfg.yml``.

    Raises:
        DeployError: missing file, not YAML, no ``Preprocess`` list or
            ``label_list`` (naming the file and key).
    """
    path = os.path.join(model_dir, 'infer_cfg.yml')
    if not os.path.isfile(path):
        raise DeployError("--model_dir: no infer_cfg.yml in '{}' (written by "
                          "tools/export_model.py)".format(model_dir))
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise DeployError("{}: not valid YAML: {}".format(
            path, ' '.join(str(err).split()))) from err
    if not isinstance(raw, dict):
        raise DeployError('{}: expected a mapping'.format(path))
    for key, kind in (('Preprocess', list), ('label_list', list)):
        if not isinstance(raw.get(key), kind):
            raise DeployError("{}: '{}' must be a list".format(path, key))
    for op in raw['Preprocess']:
        if not isinstance(op, dict) or 'type' not in op:
            raise DeployError("{}: Preprocess entry {!r} has no 'type'".format(
                path, op))
    try:
        nms = None if raw.get('NMS') is None else check_nms_settings(raw['NMS'], path)
    except ValueError as err:
        raise DeployError(str(err)) from err
    return InferConfig(preprocess=raw['Preprocess'],
                       label_list=[str(n) for n in raw['label_list']],
                       draw_threshold=float(raw.get('draw_threshold', 0.5)),
                       arch=str(raw.get('arch', '')), nms=nms)
