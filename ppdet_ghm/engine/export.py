"""Export to a Paddle Inference model with a label list that fits it.

PaddleDetection writes ``infer_cfg.yml``'s ``label_list`` from the
``TestDataset`` annotation file; when that file is not found it only warns
("load default categories of COCO") and writes COCO's 80 names, for a model
of any class count.  :func:`check_label_list` refuses that first.
"""
import json
import os

import yaml

from ..compat import ast_to_static
from ..data import DatasetError, read_label_list
from ..utils import ConfigError

__all__ = ['check_label_list', 'export_model']


def check_label_list(cfg):
    """The class names export will write: those of ``TestDataset``'s
    annotation file (a COCO json, or a VOC ``label_list.txt``), one per
    class.

    Returns:
        list[str]: the names in class order.

    Raises:
        ConfigError: no annotation file, or its category count is not
            ``num_classes`` (naming the file and both numbers).
    """
    dataset = cfg['TestDataset']   # an ImageFolder, or its block as a dict
    if hasattr(dataset, 'get_anno'):
        anno = dataset.get_anno()
    else:
        anno = dataset.get('anno_path') and os.path.join(
            dataset.get('dataset_dir') or '', dataset['anno_path'])
    where = '{}: TestDataset'.format(cfg.get('_config_path', 'config'))
    if not anno or not os.path.isfile(anno):
        raise ConfigError(
            "{}: no annotation file at '{}': export takes the class names "
            "from it (PaddleDetection would write COCO's 80 names for this "
            "{}-class model); set TestDataset.dataset_dir/anno_path".format(
                where, anno, cfg.num_classes))
    if anno.endswith('.txt'):     # ppdet reads a VOC label list then
        try:
            names = read_label_list(anno, where + '.anno_path')
        except DatasetError as err:
            raise ConfigError(str(err)) from err
    else:
        with open(anno) as f:
            categories = json.load(f).get('categories') or []
        names = [str(c.get('name'))
                 for c in sorted(categories, key=lambda c: c['id'])]
    if len(names) != cfg.num_classes:
        raise ConfigError("{}: '{}' has {} categories but num_classes is {}: "
                          "the exported label list would not fit the model"
                          .format(where, anno, len(names), cfg.num_classes))
    return names


def export_model(trainer, output_dir, exclude_nms=False):
    """``trainer.export(output_dir)`` (a test-mode Trainer with weights)
    after :func:`check_label_list`; returns the folder of the model files
    (``output_dir/<config name>``).

    With ``exclude_nms`` (or the post-processor's own ``exclude_nms``) the
    program ends before NMS (the route to ONNX, docs/deployment.md) and
    ``infer_cfg.yml`` gets an ``NMS`` block with the settings the runner
    applies instead.
    """
    check_label_list(trainer.cfg)
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
        with ast_to_static():
            trainer.export(output_dir)
    finally:
        if exclude_nms:
            post_processor.exclude_nms = previous
    # the folder Trainer.export writes
    model_dir = os.path.join(output_dir, os.path.splitext(
        os.path.basename(trainer.cfg.filename))[0])
    if exclude_nms or previous:
        with open(os.path.join(model_dir, 'infer_cfg.yml'), 'a') as f:
            yaml.safe_dump({'NMS': post_processor.nms_settings()}, f)
    return model_dir
