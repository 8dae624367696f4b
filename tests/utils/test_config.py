"""ppdet_ghm.utils.config and the config errors the tools print: an unknown
key, a wrong type, an out-of-range value, a head/loss combination that cannot
work -- each named with its block and value, before any training."""
import os
import subprocess
import sys

import pytest
from ppdet.core.workspace import load_config

from ppdet_ghm.utils import ConfigError, check_module_keys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DEMO = os.path.join(ROOT, 'configs', 'demo', 'retinanet_ghm_demo.yml')


def child_config(tmp_path, body, name='child.yml', data=None):
    path = tmp_path / name
    if data:
        body += 'TrainDataset: {{dataset_dir: {}}}\n'.format(data)
    path.write_text("_BASE_: ['{}']\n{}".format(DEMO, body))
    return str(path)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """A valid dataset, so that only the config is at fault."""
    from ppdet_ghm.data import generate_demo_dataset
    root = str(tmp_path_factory.mktemp('config_data'))
    generate_demo_dataset(root, num_train=2, num_val=1, image_size=32, seed=0)
    return root


def test_shipped_configs_have_no_unknown_keys():
    for config in ('configs/demo/retinanet_ghm_demo.yml',
                   'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml',
                   'configs/ghm/retinanet_fl_sl1_r50_fpn_1x_coco.yml'):
        check_module_keys(load_config(os.path.join(ROOT, config)), config)


def test_unknown_key_in_a_ghm_loss_block_is_named(tmp_path):
    path = child_config(tmp_path, 'GHMCLoss: {bins: 30, momentm: 0.75}\n')
    with pytest.raises(ConfigError) as err:
        check_module_keys(load_config(path), path)
    message = str(err.value)
    assert path in message and 'GHMCLoss' in message and "'momentm'" in message
    assert "did you mean 'momentum'" in message


def test_unknown_key_in_a_ppdet_block_is_named(tmp_path):
    path = child_config(tmp_path, 'ResNet: {dept: 50}\n')
    with pytest.raises(ConfigError, match="ResNet has no option 'dept'.*'depth'"):
        check_module_keys(load_config(path), path)


def run_train(config, *extra):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), '-c', config]
        + list(extra), cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('body, expected', [
    # unknown key
    ('GHMRLoss: {mu: 0.02, bin: 10}\n', "GHMRLoss has no option 'bin'"),
    # wrong type
    ('GHMCLoss: {bins: "30"}\n', "GHMCLoss.bins: expected an integer, got '30'"),
    # out of range
    ('GHMCLoss: {momentum: 1.5}\n', 'GHMCLoss.momentum: expected 0 <= momentum < 1, got 1.5'),
    ('GHMRLoss: {mu: -0.02}\n', 'GHMRLoss.mu: expected a number > 0, got -0.02'),
    # head/loss combinations that cannot work
    ('GHMRetinaHead: {loss_class: GHMRLoss}\n',
     'GHMRetinaHead.loss_class: got GHMRLoss'),
    ('GHMRetinaHead: {loss_bbox: GHMCLoss}\n',
     'GHMRetinaHead.loss_bbox: got GHMCLoss'),
    ('GHMRetinaHead: {loss_class: SmoothL1Loss}\nSmoothL1Loss: {beta: 0.11}\n',
     'GHMRetinaHead.loss_class: got SmoothL1Loss'),
    # (PaddleDetection's FocalLoss asserts this one itself)
    ('GHMRetinaHead: {loss_class: FocalLoss}\nFocalLoss: {use_sigmoid: false}\n',
     'Focal Loss only supports sigmoid'),
])
def test_train_refuses_a_bad_config_before_training(tmp_path, data, body, expected):
    path = child_config(tmp_path, body, data=data)
    proc = run_train(path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert error and expected in error[0], proc.stderr[-2000:]
    assert path in error[0]
    assert 'Traceback' not in proc.stderr
    assert 'Epoch:' not in proc.stdout + proc.stderr
