"""ppdet_ghm.analysis.gradient_report: the gradient-norm report of a model
over eval images (tools/analyze_gradients.py's logic), on the tiny demo
detector with its initial weights."""
import json
import os
import types

import cv2
import pytest
from tiny_demo import write_tiny_config

from ppdet_ghm.analysis.gradient_report import (REPORT_FILES,
                                                format_gradient_summary,
                                                gradient_report,
                                                write_gradient_report)
from ppdet_ghm.utils import ConfigError


@pytest.fixture
def eval_trainer(tmp_path):
    """(config, Trainer in 'eval' mode) of the tiny demo detector over 4
    generated val images."""
    from ppdet.core.workspace import load_config

    from ppdet_ghm.data import generate_demo_dataset
    from ppdet_ghm.engine import create_trainer
    data = str(tmp_path / 'data')
    generate_demo_dataset(data, num_train=1, num_val=4, image_size=64, seed=1)
    path = write_tiny_config(tmp_path / 'tiny.yml', data, tmp_path / 'out')
    cfg = load_config(path)
    cfg['_config_path'] = path
    return cfg, create_trainer(cfg, 'eval')


def test_report_counts_each_entry_once_and_writes_json_and_figures(eval_trainer, tmp_path):
    cfg, trainer = eval_trainer
    result = gradient_report(trainer, cfg, num_images=3, batch_size=2)
    cls_, reg = result['classification'], result['regression']
    assert result['num_images'] == 3
    assert result['num_valid_anchors'] > 0
    # every valid (anchor, class) entry and positive coordinate is counted once
    num_classes = 4
    assert cls_['num_entries'] == result['num_valid_anchors'] * num_classes
    assert sum(cls_['fine_counts']) == sum(cls_['ghm_counts']) == cls_['num_entries']
    assert reg['num_entries'] == result['num_positive_anchors'] * 4
    assert sum(reg['fine_counts']) == sum(reg['ghm_counts']) == reg['num_entries']
    # the demo config's GHM-C bins (300, docs/demo.md)
    assert len(cls_['ghm_edges']) == cls_['ghm_bins'] + 1 == 301
    assert len(cls_['ghm_g_sums']) == 300
    assert len(result['curves']['classification']['ghm_c']) > 0
    assert result['curves']['regression']['sl1_beta'] > 0
    shares = result['gradient_shares']
    assert [r['threshold'] for r in shares] == [0.5, 0.8]
    assert all(0 <= r['ghm_c'] <= 1 and 0 <= r['entries'] <= 1 for r in shares)
    assert result['config'] == cfg['_config_path']
    assert result['weights'] == cfg.get('weights')

    summary = format_gradient_summary(result).splitlines()
    assert summary[0] == ('analysed 3 images: {:,} classification entries, {:,} '
                          'regression entries'.format(cls_['num_entries'],
                                                      reg['num_entries']))
    assert [line.split(':')[0] for line in summary[1:]] == \
        ['entries with g >= 0.5', 'entries with g >= 0.8']

    out = str(tmp_path / 'report')
    paths = write_gradient_report(result, out)
    assert paths == [os.path.join(out, name) for name in REPORT_FILES]
    with open(paths[0]) as f:
        assert json.load(f) == json.loads(json.dumps(result))
    for path in paths[1:]:
        img = cv2.imread(path)
        assert img is not None and img.shape[0] > 100 and img.std() > 10

    # more images asked than the eval set has: all of them (the tool notes it)
    assert gradient_report(trainer, cfg, num_images=100)['num_images'] == 4


def test_a_model_without_ghm_retina_head_is_refused_naming_the_config():
    trainer = types.SimpleNamespace(model=types.SimpleNamespace(head=None))
    with pytest.raises(ConfigError, match=r'^x\.yml: the analysis needs a RetinaNet '
                       r'with GHMRetinaHead, the model has head NoneType$'):
        gradient_report(trainer, {'_config_path': 'x.yml'}, num_images=1)
