"""ppdet_ghm.engine.export: the exported label list fits the model, or the
export is refused (PaddleDetection wrote COCO's 80 names for any model when
the TestDataset annotation file was not found)."""
import json
import os
import shutil

import pytest
from tiny_demo import write_tiny_config

from ppdet_ghm.engine import check_label_list, load_config
from ppdet_ghm.utils import ConfigError


def test_the_label_list_is_the_datasets_categories(tmp_path, tiny_data):
    cfg = load_config(write_tiny_config(tmp_path / 'run.yml', tiny_data, tmp_path))
    names, source = check_label_list(cfg)
    assert names == ['circle', 'rectangle', 'triangle', 'cross']
    assert source == "the annotation file '{}'".format(
        os.path.join(tiny_data, 'annotations', 'instances_val.json'))


def test_a_missing_annotation_file_is_refused(tmp_path, tiny_data):
    cfg = load_config(write_tiny_config(
        tmp_path / 'run.yml', tiny_data, tmp_path,
        extra='TestDataset: {anno_path: nowhere.json}\n'))
    with pytest.raises(ConfigError, match=r"TestDataset: no annotation file at "
                       r"'.*nowhere.json'.*COCO's 80 names for this 4-class model.*"
                       r"--label_list FILE"):
        check_label_list(cfg)
    # a label list given instead
    names = tmp_path / 'names.txt'
    names.write_text('a\nb\nc\nd\n')
    assert check_label_list(cfg, str(names)) == (
        ['a', 'b', 'c', 'd'], "the label list '{}'".format(names))
    names.write_text('a\nb\n')
    with pytest.raises(ConfigError, match=r"the label list '.*names.txt' has 2 "
                       r"categories but num_classes is 4"):
        check_label_list(cfg, str(names))


def test_a_coco_model_exports_without_the_coco_annotations(tmp_path):
    # the R50 COCO config; no COCO on this machine
    cfg = load_config(os.path.join(os.path.dirname(__file__), '..', '..', 'configs',
                                   'ghm', 'retinanet_ghm_r50_fpn_1x_coco.yml'))
    assert not os.path.isfile(os.path.join(cfg['TestDataset']['dataset_dir'],
                                           cfg['TestDataset']['anno_path']))
    names, source = check_label_list(cfg)
    assert source == "COCO's 80 class names"
    assert len(names) == 80 and names[:2] == ['person', 'bicycle']


def test_a_category_count_that_is_not_num_classes_is_refused(tmp_path, tiny_data):
    data = shutil.copytree(tiny_data, str(tmp_path / 'data'))
    anno = os.path.join(data, 'annotations', 'instances_val.json')
    with open(anno) as f:
        coco = json.load(f)
    coco['categories'] = coco['categories'][:3]
    with open(anno, 'w') as f:
        json.dump(coco, f)
    cfg = load_config(write_tiny_config(tmp_path / 'run.yml', data, tmp_path))
    with pytest.raises(ConfigError, match=r"has 3 categories but num_classes is 4"):
        check_label_list(cfg)
