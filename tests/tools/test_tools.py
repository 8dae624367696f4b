"""tools/train.py, eval.py, infer.py, export_model.py end to end on a tiny
detector (the demo config, shrunk) and a tiny generated dataset."""
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest
from tiny_demo import write_tiny_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def tiny_config(tmp, data_dir, name='tiny'):
    """The tiny demo config for one epoch, named ``name``; evaluation keeps
    every score so that an untrained model still reports AP."""
    out = os.path.join(tmp, 'out')
    return write_tiny_config(
        os.path.join(tmp, name + '.yml'), data_dir, out, epoch=1, extra="""\
weights: {out}/{name}/model_final
EvalReader: {{batch_size: 2}}
TestReader: {{inputs_def: {{image_shape: [3, 64, 64]}}}}
GHMRetinaPostProcess: {{score_threshold: 0.0}}
""".format(out=out, name=name))


def run_tool(tool, *args, check=True):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', tool)] + list(args),
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError('{} failed ({}):\n{}\n{}'.format(
            tool, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Generate data, train one epoch with --eval; returns (tmp, config, weights)."""
    from ppdet_ghm.data import generate_demo_dataset
    tmp = str(tmp_path_factory.mktemp('tools'))
    data = os.path.join(tmp, 'data')
    generate_demo_dataset(data, num_train=8, num_val=4, image_size=64, seed=1)
    config = tiny_config(tmp, data)
    proc = run_tool('train.py', '-c', config, '--eval')
    log = proc.stdout + proc.stderr
    weights = os.path.join(tmp, 'out', 'tiny', 'model_final')
    return tmp, config, weights, log


def test_train_with_eval_writes_checkpoints_and_reports_ap(trained):
    tmp, _, weights, log = trained
    assert os.path.isfile(weights + '.pdparams')
    assert os.path.isfile(weights + '.pdopt')
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in log
    assert 'loss_cls' in log and 'loss_bbox' in log
    state = paddle.load(weights + '.pdparams')
    # the GHM EMA state is part of the checkpoint and was updated
    assert float(np.abs(state['head.loss_class.acc_sum'].numpy()).sum()) > 0


def test_eval_reports_coco_ap(trained):
    _, config, weights, _ = trained
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=' + weights)
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in proc.stdout + proc.stderr


def test_eval_refuses_weights_missing_a_parameter(trained):
    tmp, config, weights, _ = trained
    state = paddle.load(weights + '.pdparams')
    del state['head.retina_cls.weight']
    broken = os.path.join(tmp, 'broken.pdparams')
    paddle.save(state, broken)
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=' + broken, check=False)
    assert proc.returncode != 0
    assert 'head.retina_cls.weight' in proc.stderr and 'missing' in proc.stderr


def test_eval_with_a_missing_path_names_it(trained):
    _, config, _, _ = trained
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=/no/such/model', check=False)
    assert proc.returncode != 0 and "/no/such/model" in proc.stderr


def test_infer_draws_boxes_into_output_dir(trained):
    tmp, config, weights, _ = trained
    out = os.path.join(tmp, 'infer')
    image = os.path.join(tmp, 'data', 'val', os.listdir(os.path.join(tmp, 'data', 'val'))[0])
    run_tool('infer.py', '-c', config, '-o', 'weights=' + weights,
             '--infer_img', image, '--output_dir', out, '--draw_threshold', '0.0')
    written = os.listdir(out)
    assert os.path.basename(image) in written


def test_export_writes_an_inference_model(trained):
    tmp, config, weights, _ = trained
    out = os.path.join(tmp, 'export')
    run_tool('export_model.py', '-c', config, '-o', 'weights=' + weights,
             '--output_dir', out)
    files = os.listdir(os.path.join(out, 'tiny'))
    assert 'infer_cfg.yml' in files and 'model.pdiparams' in files
    assert 'model.pdmodel' in files or 'model.json' in files


def test_train_offline_pretrain_download_says_how_to_pass_a_file(trained):
    _, config, _, _ = trained
    proc = run_tool('train.py', '-c', config, '-o',
                    'pretrain_weights=http://127.0.0.1:9/ResNet18_pretrained.pdparams',
                    check=False)
    assert proc.returncode != 0
    assert 'could not download' in proc.stderr
    assert '-o pretrain_weights=/path/to/ResNet18_pretrained.pdparams' in proc.stderr


def test_analyze_gradients_writes_histograms_curves_and_json(trained):
    import json

    import cv2
    tmp, config, weights, _ = trained
    out = os.path.join(tmp, 'gradients')
    proc = run_tool('analyze_gradients.py', '-c', config, '-o',
                    'weights=' + weights, '--num_images', '3',
                    '--output_dir', out)
    assert 'analysed 3 images' in proc.stdout
    with open(os.path.join(out, 'gradient_norms.json')) as f:
        result = json.load(f)
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
    shares = result['gradient_shares']
    assert [r['threshold'] for r in shares] == [0.5, 0.8]
    assert all(0 <= r['ghm_c'] <= 1 and 0 <= r['entries'] <= 1 for r in shares)
    assert 'entries with g >= 0.5:' in proc.stdout
    for name in ('gradient_norms.png', 'harmonizing.png'):
        img = cv2.imread(os.path.join(out, name))
        assert img is not None and img.shape[0] > 100 and img.std() > 10


def test_analyze_gradients_refuses_a_bad_image_count(trained):
    _, config, weights, _ = trained
    proc = run_tool('analyze_gradients.py', '-c', config, '-o',
                    'weights=' + weights, '--num_images', '0', check=False)
    assert proc.returncode != 0 and '--num_images' in proc.stderr


@pytest.fixture
def damaged_data(tmp_path):
    from ppdet_ghm.data import generate_demo_dataset
    data = str(tmp_path / 'data')
    generate_demo_dataset(data, num_train=6, num_val=2, image_size=64, seed=2)
    return data


def test_train_with_a_wrong_dataset_dir_says_so(tmp_path):
    config = tiny_config(str(tmp_path), str(tmp_path / 'no_such_dir'))
    proc = run_tool('train.py', '-c', config, check=False)
    assert proc.returncode == 2
    assert "TrainDataset.dataset_dir: no directory '{}'".format(
        tmp_path / 'no_such_dir') in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_train_refuses_a_truncated_jpeg_naming_it(tmp_path, damaged_data):
    path = os.path.join(damaged_data, 'train', '000004.jpg')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:100])
    proc = run_tool('train.py', '-c', tiny_config(str(tmp_path), damaged_data),
                    check=False)
    assert proc.returncode == 2
    assert "image id 4 ('{}'): truncated JPEG".format(path) in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_train_skips_a_missing_image_with_a_warning(tmp_path, damaged_data):
    os.remove(os.path.join(damaged_data, 'train', '000003.jpg'))
    proc = run_tool('train.py', '-c', tiny_config(str(tmp_path), damaged_data))
    assert "warning: TrainDataset: image id 3: no file '{}'".format(
        os.path.join(damaged_data, 'train', '000003.jpg')) in proc.stderr
    assert os.path.isfile(os.path.join(str(tmp_path), 'out', 'tiny',
                                       'model_final.pdparams'))


def _truncated_copy(src, dst):
    with open(src, 'rb') as f:
        data = f.read()
    with open(dst, 'wb') as f:
        f.write(data[:len(data) // 2])
    return dst


def test_eval_refuses_truncated_weights_naming_the_file(trained):
    tmp, config, weights, _ = trained
    bad = _truncated_copy(weights + '.pdparams',
                          os.path.join(tmp, 'truncated.pdparams'))
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=' + bad, check=False)
    assert proc.returncode == 2
    assert "cannot read '{}'".format(bad) in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.parametrize('override, listed', [
    ('num_classes=3', 'head.retina_cls.weight (model [27, 16, 3, 3] vs file [36, 16, 3, 3])'),
    ('CSPResNet.depth_mult=0.67', '90 missing key(s): backbone.stages.0.blocks.1.conv1.conv.weight'),
])
def test_eval_refuses_weights_of_another_architecture(trained, override, listed):
    _, config, weights, _ = trained
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=' + weights,
                    override, check=False)
    assert proc.returncode == 2
    assert listed in proc.stderr, proc.stderr[-2000:]
    assert 'different architecture or num_classes' in proc.stderr


def test_resume_from_a_truncated_checkpoint_names_it(trained):
    tmp, config, weights, _ = trained
    bad = os.path.join(tmp, 'bad_resume')
    _truncated_copy(weights + '.pdparams', bad + '.pdparams')
    shutil.copy(weights + '.pdopt', bad + '.pdopt')
    proc = run_tool('train.py', '-c', config, '-r', bad, check=False)
    assert proc.returncode == 2 and "cannot read '{}.pdparams'".format(bad) in proc.stderr
    # weights fine, optimizer state truncated
    shutil.copy(weights + '.pdparams', bad + '.pdparams')
    _truncated_copy(weights + '.pdopt', bad + '.pdopt')
    proc = run_tool('train.py', '-c', config, '-r', bad, check=False)
    assert proc.returncode == 2 and "resume: cannot read '{}.pdopt'".format(bad) in proc.stderr
    os.remove(bad + '.pdopt')
    proc = run_tool('train.py', '-c', config, '-r', bad, check=False)
    assert proc.returncode == 2 and 'no optimizer state' in proc.stderr


def test_analyze_learning_refuses_negative_steps_in_one_line():
    proc = run_tool('analyze_learning.py', '-c',
                    os.path.join(ROOT, 'configs', 'demo', 'retinanet_ghm_demo.yml'),
                    '--steps', '-1', check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == \
        'error: --steps: expected an integer >= 0, got -1'
