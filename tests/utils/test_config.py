"""ppdet_ghm.utils.config and the config errors the tools print: an unknown
key, a wrong type, an out-of-range value, a head/loss combination that cannot
work -- each named with its block and value, before any training."""
import glob
import os
import subprocess
import sys

import pytest
from ppdet.core.workspace import load_config

from ppdet_ghm.engine import create_model
from ppdet_ghm.engine import load_config as load_run_config
from ppdet_ghm.utils import ConfigError, check_module_keys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DEMO = os.path.join(ROOT, 'configs', 'demo', 'retinanet_ghm_demo.yml')


def child_config(tmp_path, body, name='child.yml', data=None):
    path = tmp_path / name
    if data:
        body += 'TrainDataset: {{dataset_dir: {}}}\n'.format(data)
    path.write_text("_BASE_: ['{}']\n{}".format(DEMO, body))
    return str(path)


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


def refusal(path):
    """The ConfigError the tools' path raises for ``path``: loading (module
    keys) or building the model (each module checks its arguments)."""
    with pytest.raises(ConfigError) as err:
        create_model(load_run_config(path))
    return str(err.value)


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
    # the old name of the head's post-processor key
    ('GHMRetinaHead: {post_process: GHMRetinaPostProcess}\n',
     "GHMRetinaHead has no option 'post_process'"),
    # post-processing and assignment values that would silently empty every
    # image's detections, suppress nothing, or never match a low-quality box
    ('GHMRetinaPostProcess: {max_per_img: 0}\n',
     'GHMRetinaPostProcess.max_per_img: expected an integer >= 1, got 0'),
    ('GHMRetinaPostProcess: {nms_pre: 0}\n',
     'GHMRetinaPostProcess.nms_pre: expected an integer >= 1, got 0'),
    ('GHMRetinaPostProcess: {nms_threshold: 1.5}\n',
     'GHMRetinaPostProcess.nms_threshold: expected 0 <= value <= 1, got 1.5'),
    ('GHMRetinaPostProcess: {score_threshold: "0.05"}\n',
     "GHMRetinaPostProcess.score_threshold: expected a number (0 <= value <= 1), "
     "got '0.05'"),
    ('GHMRetinaAssigner: {min_pos_iou: 1.5}\n',
     'GHMRetinaAssigner.min_pos_iou: expected 0 <= min_pos_iou <= 1, got 1.5'),
])
def test_a_bad_config_is_refused_naming_file_block_and_value(tmp_path, body, expected):
    path = child_config(tmp_path, body)
    message = refusal(path)
    assert expected in message and path in message


def test_train_tool_ends_a_refused_config_with_one_line_and_exit_2(tmp_path):
    # the whole path once through the tool: dataset checked, Trainer built
    from tiny_demo import write_tiny_data
    data = write_tiny_data(tmp_path / 'data')
    path = child_config(tmp_path, 'GHMCLoss: {momentum: 1.5}\n', data=data)
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), '-c', path],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert error and 'GHMCLoss.momentum: expected 0 <= momentum < 1' in error[0]
    assert path in error[0]
    assert 'Traceback' not in proc.stderr
    assert 'Epoch:' not in proc.stdout + proc.stderr


# -- top-level keys and values (utils.config.check_top_level) ---------------------

@pytest.mark.parametrize('body, expected', [
    ('epoc: 3\n', "unknown top-level key 'epoc'; did you mean 'epoch'?"),
    ('GHMCLos: {bins: 20}\n', "unknown top-level key 'GHMCLos'; did you mean 'GHMCLoss'?"),
    ('snapshot_epoch: 0\n', 'snapshot_epoch: expected an integer >= 1, got 0'),
    ('epoch: "3"\n', "epoch: expected an integer >= 1, got '3'"),
    ('log_iter: 0\n', 'log_iter: expected an integer >= 1, got 0'),
    ('num_classes: 0\n', 'num_classes: expected an integer >= 1, got 0'),
    # ppdet asserted only when it built the reader: after a training epoch
    ('EvalReader: {batch_size: 0}\n', 'EvalReader.batch_size: expected an integer >= 1, got 0'),
    ('TestReader: {batch_size: 1.5}\n', 'TestReader.batch_size: expected an integer >= 1, got 1.5'),
    ('TrainReader: {batch_size: -2}\n', 'TrainReader.batch_size: expected an integer >= 1, got -2'),
    ('LearningRate: {base_lr: -0.01}\n', 'LearningRate.base_lr: expected a number > 0, got -0.01'),
    ('LearningRate: {base_lr: 0}\n', 'LearningRate.base_lr: expected a number > 0, got 0'),
    # Paddle would build an lr that rises at the second milestone
    ('LearningRate:\n  base_lr: 0.01\n  schedulers:\n  - !PiecewiseDecay\n'
     '    milestones: [11, 8]\n',
     'LearningRate PiecewiseDecay.milestones: expected increasing epoch numbers '
     '>= 1, got [11, 8]'),
])
def test_top_level_slips_are_refused_naming_key_and_value(tmp_path, body, expected):
    path = child_config(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_run_config(path)
    assert expected in str(err.value) and path in str(err.value)


def test_a_milestone_the_schedule_never_reaches_is_a_warning(tmp_path, capsys):
    path = child_config(tmp_path, 'epoch: 6\nLearningRate:\n  base_lr: 0.01\n'
                        '  schedulers:\n  - !PiecewiseDecay\n    milestones: [4, 8]\n')
    load_run_config(path)
    assert 'LearningRate PiecewiseDecay.milestones [8] are not before the last ' \
           'epoch (6): the lr never drops there' in capsys.readouterr().err


def test_an_unknown_key_far_from_any_known_one_is_a_warning(tmp_path, capsys):
    path = child_config(tmp_path, 'my_note: keep\n')
    load_run_config(path)
    assert "warning: {}: top-level key 'my_note' is not one PaddleDetection or " \
           "ppdet_ghm reads (ignored)".format(path) in capsys.readouterr().err


SHIPPED = sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'configs', '**', '*.yml'),
                                                recursive=True)
    if '_base_' not in p and os.path.basename(p) not in ('runtime.yml',)
    and 'datasets' not in p
    and os.sep + 'studies' + os.sep not in p)  # study files: tests/study/


@pytest.mark.parametrize('config', SHIPPED)
def test_shipped_configs_load_without_a_warning(config, capsys):
    load_run_config(os.path.join(ROOT, config))
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize('text, expected', [
    ("epoch: [1, 2\n", 'not valid YAML: while parsing a flow sequence'),
    ("_BASE_: ['nowhere.yml']\n", "_BASE_ entry '{dir}/nowhere.yml' is not a file"),
    ("", 'expected a YAML mapping'),
    ("- a\n- b\n", 'expected a YAML mapping'),
])
def test_config_files_that_do_not_read_are_named(tmp_path, text, expected):
    path = tmp_path / 'bad.yml'
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_run_config(str(path))
    message = str(err.value)
    assert message.startswith(str(path)) and '\n' not in message
    assert expected.format(dir=tmp_path) in message
