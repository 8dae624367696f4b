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
    assert check_label_list(cfg) == ['circle', 'rectangle', 'triangle', 'cross']


def test_a_missing_annotation_file_is_refused(tmp_path, tiny_data):
    cfg = load_config(write_tiny_config(
        tmp_path / 'run.yml', tiny_data, tmp_path,
        extra='TestDataset: {anno_path: nowhere.json}\n'))
    with pytest.raises(ConfigError, match=r"TestDataset: no annotation file at "
                       r"'.*nowhere.json'.*COCO's 80 names for this 4-class model"):
        check_label_list(cfg)


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
