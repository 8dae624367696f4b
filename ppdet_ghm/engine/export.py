"""Export to a Paddle Inference model with a label list that fits it.

PaddleDetection writes ``infer_cfg.yml``'s ``label_list`` from the
``TestDataset`` annotation file; when that file is not found it only warns
("load default categories of COCO") and writes COCO's 80 names, for a model
of any class count.  Here the names come from the annotation file, a
``--label_list`` file or, for an 80-class COCO model, COCO's names
(:func:`check_label_list`), and export says which.
"""
import contextlib
import json
import os

import yaml

from ..compat import ast_to_static
from ..data import DatasetError, read_label_list
from ..utils import ConfigError

__all__ = ['check_label_list', 'export_model']


def check_label_list(cfg, label_list=None):
    """The class names export will write, and where they come from.

    In order: the ``TestDataset`` annotation file when it exists (a COCO
    json's categories, or a VOC ``label_list.txt``); else the file
    ``label_list`` (one name per line); else, for an 80-class COCO model,
    COCO's 80 names (those the mmdetection converter maps; ppdet's own
    list), so a COCO model exports without the COCO annotations on the
    machine.

    Returns:
        tuple: ``(names, source)``, ``source`` a phrase naming the file or
        "COCO's 80 class names".

    Raises:
        ConfigError: none of these, or a list whose length is not
            ``num_classes`` (naming the file and both numbers).
    """
    dataset = cfg['TestDataset']   # an ImageFolder, or its block as a dict
    if hasattr(dataset, 'get_anno'):
        anno = dataset.get_anno()
    else:
        anno = dataset.get('anno_path') and os.path.join(
            dataset.get('dataset_dir') or '', dataset['anno_path'])
    where = '{}: TestDataset'.format(cfg.get('_config_path', 'config'))
    if anno and os.path.isfile(anno):
        names, source = _read_names(anno, where + '.anno_path'), \
            "the annotation file '{}'".format(anno)
    elif label_list:
        names, source = _read_names(label_list, '--label_list'), \
            "the label list '{}'".format(label_list)
    elif cfg.num_classes == 80 and cfg.get('metric') == 'COCO':
        from ..compat import coco17_class_names
        names, source = coco17_class_names(), "COCO's 80 class names"
    else:
        raise ConfigError(
            "{}: no annotation file at '{}': export takes the class names "
            "from it (PaddleDetection would write COCO's 80 names for this "
            "{}-class model); set TestDataset.dataset_dir/anno_path or pass "
            "--label_list FILE (one name per line)".format(
                where, anno, cfg.num_classes))
    if len(names) != cfg.num_classes:
        raise ConfigError("{}: {} has {} categories but num_classes is {}: "
                          "the exported label list would not fit the model"
                          .format(where, source, len(names), cfg.num_classes))
    return names, source


def _read_names(path, what):
    """Class names of a COCO json (categories by id) or a text file (one
    per line, as VOC's label_list.txt)."""
    if not path.endswith('.json'):
        try:
            return read_label_list(path, what)
        except DatasetError as err:
            raise ConfigError(str(err)) from err
    with open(path) as f:
        categories = json.load(f).get('categories') or []
    return [str(c.get('name')) for c in sorted(categories, key=lambda c: c['id'])]


def export_model(trainer, output_dir, exclude_nms=False, label_list=None,
                 for_onnx=False):
    """``trainer.export(output_dir)`` (a test-mode Trainer with weights)
    with the class names of :func:`check_label_list` (``label_list``: the
    ``--label_list`` file) in ``infer_cfg.yml``; returns ``(folder of the
    model files, where the names came from)``.

    With ``exclude_nms`` (or the post-processor's own ``exclude_nms``) the
    program ends before NMS (the route to ONNX, docs/deployment.md) and
    ``infer_cfg.yml`` gets an ``NMS`` block with the settings the runner
    applies instead.  ``for_onnx`` traces GroupNorm layers as primitive ops
    (``deploy.onnx_export.primitive_group_norms``: paddle2onnx converts the
    ``group_norm`` op wrongly).
    """
    names, source = check_label_list(trainer.cfg, label_list)
    post_processor = getattr(trainer.model.head, 'post_processor', None)
    if exclude_nms and not hasattr(post_processor, 'exclude_nms'):
        raise ConfigError('{}: exclude_nms needs the GHMRetinaPostProcess '
                          'post-processor, the head has {!r}'.format(
                              trainer.cfg.get('_config_path', 'config'),
                              type(post_processor).__name__))
    previous = getattr(post_processor, 'exclude_nms', False)
    if exclude_nms:
        post_processor.exclude_nms = True
    try:
        with contextlib.ExitStack() as scope:
            scope.enter_context(ast_to_static())
            if for_onnx:
                from ..deploy.onnx_export import primitive_group_norms
                scope.enter_context(primitive_group_norms(trainer.model))
            trainer.export(output_dir)
    finally:
        if exclude_nms:
            post_processor.exclude_nms = previous
    # the folder Trainer.export writes
    model_dir = os.path.join(output_dir, os.path.splitext(
        os.path.basename(trainer.cfg.filename))[0])
    infer_cfg = os.path.join(model_dir, 'infer_cfg.yml')
    with open(infer_cfg) as f:
        written = yaml.safe_load(f)
    # ppdet writes its own guess (COCO's names when it finds no annotations)
    written['label_list'] = list(names)
    if exclude_nms or previous:
        written['NMS'] = post_processor.nms_settings()
    with open(infer_cfg, 'w') as f:
        yaml.safe_dump(written, f, sort_keys=False)
    return model_dir, source
