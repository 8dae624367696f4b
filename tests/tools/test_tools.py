"""tools/train.py, eval.py, infer.py, export_model.py end to end on a tiny
detector (the demo config, shrunk) and the tests' tiny dataset; the errors
the tools print are checked in-process on the package functions they call,
the exit codes once per tool (test_eval_with_a_missing_path_names_it here,
tests/utils/test_config.py and tests/engine/ for train)."""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest
from tiny_demo import hold_save_dir_lock, write_tiny_config

from ppdet_ghm.data import DatasetError
from ppdet_ghm.utils import WeightsError

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
def trained(tmp_path_factory, tiny_data):
    """Train one epoch with --eval on the shared tiny data; returns (tmp,
    config, weights, log)."""
    tmp = str(tmp_path_factory.mktemp('tools'))
    data = tiny_data
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
    # the evaluation's record, written by the training (EvalRecordWriter)
    with open(os.path.join(os.path.dirname(weights), 'eval_records.jsonl')) as f:
        records = [json.loads(line) for line in f]
    assert [r['epoch'] for r in records] == [1]
    assert len(records[0]['bbox']) == 12 and records[0]['minutes'] > 0
    assert records[0]['iteration'] == 4           # 8 images / batch 2
    state = paddle.load(weights + '.pdparams')
    # the GHM EMA state is part of the checkpoint and was updated
    assert float(np.abs(state['head.loss_class.acc_sum'].numpy()).sum()) > 0


def test_eval_reports_coco_ap(trained):
    _, config, weights, _ = trained
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=' + weights)
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in proc.stdout + proc.stderr


def eval_refusal(config, **options):
    """The WeightsError that tools/eval.py turns into its one-line error:
    ``engine.create_trainer_with_weights`` in eval mode, in-process."""
    from ppdet_ghm.engine import create_trainer_with_weights, load_config
    with pytest.raises(WeightsError) as info:
        create_trainer_with_weights(load_config(config, options), 'eval')
    return str(info.value)


def test_eval_refuses_weights_missing_a_parameter(trained):
    tmp, config, weights, _ = trained
    state = paddle.load(weights + '.pdparams')
    del state['head.retina_cls.weight']
    broken = os.path.join(tmp, 'broken.pdparams')
    paddle.save(state, broken)
    message = eval_refusal(config, weights=broken)
    assert 'head.retina_cls.weight' in message and 'missing' in message


def test_eval_with_a_missing_path_names_it(trained):
    _, config, _, _ = trained
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=/no/such/model', check=False)
    assert proc.returncode != 0 and "/no/such/model" in proc.stderr


def test_eval_that_detects_nothing_ends_with_an_error_not_silence(trained):
    _, config, weights, _ = trained
    proc = run_tool('eval.py', '-c', config, '-o', 'weights=' + weights,
                    'GHMRetinaPostProcess.score_threshold=1.0', check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'error: {}: evaluation ended without a metric'.format(config))


def test_infer_on_a_file_that_is_no_image_ends_instead_of_waiting(trained, tmp_path):
    # ppdet's reader thread died on it and the main process waited forever
    _, config, weights, _ = trained
    junk = tmp_path / 'notes.txt'
    junk.write_text('not an image')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'infer.py'), '-c', config,
         '-o', 'weights=' + weights, '--infer_img', str(junk)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --infer_img: '{}': the file does not decode as an image".format(junk))


def test_infer_draws_boxes_into_output_dir(trained, tiny_data):
    tmp, config, weights, _ = trained
    out = os.path.join(tmp, 'infer')
    image = os.path.join(tiny_data, 'val', sorted(os.listdir(os.path.join(tiny_data, 'val')))[0])
    run_tool('infer.py', '-c', config, '-o', 'weights=' + weights,
             '--infer_img', image, '--output_dir', out, '--draw_threshold', '0.0')
    written = os.listdir(out)
    assert os.path.basename(image) in written


def test_export_writes_an_inference_model(trained):
    tmp, config, weights, _ = trained
    out = os.path.join(tmp, 'export')
    proc = run_tool('export_model.py', '-c', config, '-o', 'weights=' + weights,
                    '--output_dir', out)
    files = os.listdir(os.path.join(out, 'tiny'))
    assert 'infer_cfg.yml' in files and 'model.pdiparams' in files
    assert 'model.pdmodel' in files or 'model.json' in files
    assert "class names from the annotation file '" in proc.stdout
    # without the annotation file: a --label_list file, said so
    names = os.path.join(tmp, 'names.txt')
    with open(names, 'w') as f:
        f.write('w\nx\ny\nz\n')
    proc = run_tool('export_model.py', '-c', config, '-o', 'weights=' + weights,
                    'TestDataset.anno_path=missing.json', '--output_dir', out,
                    '--label_list', names)
    assert "class names from the label list '{}'".format(names) in proc.stdout
    import yaml
    with open(os.path.join(out, 'tiny', 'infer_cfg.yml')) as f:
        assert yaml.safe_load(f)['label_list'] == ['w', 'x', 'y', 'z']


def test_train_offline_pretrain_download_says_how_to_pass_a_file(trained):
    _, config, _, _ = trained
    proc = run_tool('train.py', '-c', config, '-o',
                    'pretrain_weights=http://127.0.0.1:9/ResNet18_pretrained.pdparams',
                    check=False)
    assert proc.returncode != 0
    assert 'could not download' in proc.stderr
    assert '-o pretrain_weights=/path/to/ResNet18_pretrained.pdparams' in proc.stderr


def test_analyze_gradients_writes_histograms_curves_and_json(trained):
    """The CLI end to end (the report itself: tests/analysis/test_gradient_report.py)."""
    import json

    tmp, config, weights, _ = trained
    out = os.path.join(tmp, 'gradients')
    proc = run_tool('analyze_gradients.py', '-c', config, '-o',
                    'weights=' + weights, '--num_images', '3',
                    '--output_dir', out)
    assert 'analysed 3 images' in proc.stdout
    assert 'entries with g >= 0.5:' in proc.stdout
    names = ('gradient_norms.json', 'gradient_norms.png', 'harmonizing.png')
    assert proc.stdout.splitlines()[-3:] == [
        'wrote ' + os.path.join(out, name) for name in names]
    with open(os.path.join(out, 'gradient_norms.json')) as f:
        result = json.load(f)
    assert result['num_images'] == 3
    assert result['config'] == config and result['weights'] == weights
    for name in names[1:]:
        with open(os.path.join(out, name), 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def tool_error(monkeypatch, capsys, tool, *argv):
    """Run ``tools/<tool>.py``'s main in-process; it must exit 2 -- returns
    the last line it wrote on stderr."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, 'tools'))
    module = __import__(tool)
    with pytest.raises(SystemExit) as info:
        module.main(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


DEMO_CONFIG = os.path.join(ROOT, 'configs', 'demo', 'retinanet_ghm_demo.yml')


def test_analyze_gradients_refuses_a_bad_image_count(capsys, monkeypatch):
    assert tool_error(monkeypatch, capsys, 'analyze_gradients', '-c', DEMO_CONFIG,
                      '--num_images', '0') == \
        "error: argument --num_images: expected an integer >= 1, got '0' (see --help)"


@pytest.fixture
def damaged_data(tmp_path, tiny_data):
    """A copy of the shared tiny data, for a test to damage."""
    return shutil.copytree(tiny_data, str(tmp_path / 'data'))


def train_in_process(config, **kwargs):
    """What tools/train.py runs (``engine.train``), in-process."""
    from ppdet_ghm.engine import load_config, train
    return train(load_config(config), **kwargs)


def test_train_with_a_wrong_dataset_dir_says_so(tmp_path):
    config = tiny_config(str(tmp_path), str(tmp_path / 'no_such_dir'))
    with pytest.raises(DatasetError, match=re.escape(
            "TrainDataset.dataset_dir: no directory '{}'".format(
                tmp_path / 'no_such_dir'))):
        train_in_process(config)


def test_train_refuses_a_truncated_jpeg_naming_it(tmp_path, damaged_data):
    path = os.path.join(damaged_data, 'train', '000004.jpg')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:100])
    with pytest.raises(DatasetError, match=re.escape(
            "image id 4 ('{}'): truncated JPEG".format(path))):
        train_in_process(tiny_config(str(tmp_path), damaged_data))


def test_train_skips_a_missing_image_with_a_warning(tmp_path, damaged_data, capsys):
    os.remove(os.path.join(damaged_data, 'train', '000003.jpg'))
    train_in_process(tiny_config(str(tmp_path), damaged_data))
    assert "warning: TrainDataset: image id 3: no file '{}'".format(
        os.path.join(damaged_data, 'train', '000003.jpg')) in capsys.readouterr().err
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
    assert "cannot read '{}'".format(bad) in eval_refusal(config, weights=bad)


@pytest.mark.parametrize('override, listed', [
    ({'num_classes': 5}, 'head.retina_cls.weight (model [45, 16, 3, 3] vs file [36, 16, 3, 3])'),
    ({'CSPResNet': {'depth_mult': 0.67}}, '90 missing key(s): backbone.stages.0.blocks.1.conv1.conv.weight'),
])
def test_eval_refuses_weights_of_another_architecture(trained, override, listed):
    _, config, weights, _ = trained
    message = eval_refusal(config, weights=weights, **override)
    assert listed in message, message[-2000:]
    assert 'different architecture or num_classes' in message


def test_resume_from_a_truncated_checkpoint_names_it(trained):
    tmp, config, weights, _ = trained
    bad = os.path.join(tmp, 'bad_resume')
    _truncated_copy(weights + '.pdparams', bad + '.pdparams')
    shutil.copy(weights + '.pdopt', bad + '.pdopt')
    with pytest.raises(WeightsError, match=re.escape("cannot read '{}.pdparams'".format(bad))):
        train_in_process(config, resume=bad)
    # weights fine, optimizer state truncated
    shutil.copy(weights + '.pdparams', bad + '.pdparams')
    _truncated_copy(weights + '.pdopt', bad + '.pdopt')
    with pytest.raises(WeightsError, match=re.escape("resume: cannot read '{}.pdopt'".format(bad))):
        train_in_process(config, resume=bad)
    os.remove(bad + '.pdopt')
    with pytest.raises(WeightsError, match='no optimizer state'):
        train_in_process(config, resume=bad)



def test_a_second_training_into_a_held_save_dir_stops_naming_the_process(trained):
    """The same command twice, and a resume while the first run is alive."""
    _, config, weights, _ = trained
    holder = hold_save_dir_lock(os.path.dirname(weights))
    try:
        for extra in ([], ['-r', weights]):
            proc = run_tool('train.py', '-c', config, *extra, check=False)
            assert proc.returncode == 2, proc.stderr[-2000:]
            error = proc.stderr.strip().splitlines()[-1]
            assert error.startswith("error: save_dir '{}' is in use by another "
                                    "training: process {} on ".format(
                                        os.path.dirname(weights), holder.pid))
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize('tool,flag', [('eval.py', '--output_eval'),
                                       ('infer.py', '--output_dir'),
                                       ('export_model.py', '--output_dir')])
def test_an_output_path_under_a_file_is_refused_before_the_model_runs(
        trained, tmp_path, tool, flag):
    _, config, weights, _ = trained
    blocker = tmp_path / 'results'
    blocker.write_text('a file, not a folder')
    extra = ['--infer_img', 'x.jpg'] if tool == 'infer.py' else []
    proc = run_tool(tool, '-c', config, '-o', 'weights=' + weights, *extra,
                    flag, str(blocker / 'run'), check=False)
    assert proc.returncode == 2
    error = proc.stderr.strip().splitlines()[-1]
    assert flag in error and "'{}' is a file".format(blocker) in error, error
    assert 'Traceback' not in proc.stderr


def test_eval_creates_a_nested_output_eval(trained, tmp_path):
    # ppdet's COCO metric creates output_eval without its parents
    # (FileNotFoundError when the model has already run)
    _, config, weights, _ = trained
    nested = tmp_path / 'a' / 'b' / 'eval'
    run_tool('eval.py', '-c', config, '-o', 'weights=' + weights,
             '--output_eval', str(nested))
    assert (nested / 'bbox.json').is_file()


@pytest.mark.parametrize('tool,args,expected', [
    ('deploy_infer.py', ['--model_dir', 'm', '--image_dir', 'd', '--batch_size', '0'],
     "argument --batch_size: expected an integer >= 1, got '0'"),
    ('deploy_infer.py', ['--model_dir', 'm', '--image_dir', 'd', '--repeats', '0'],
     "argument --repeats: expected an integer >= 1, got '0'"),
    ('infer.py', ['-c', 'x.yml', '--infer_img', 'x.jpg', '--draw_threshold', '5'],
     "argument --draw_threshold: expected a number from 0 to 1, got '5'")])
def test_a_numeric_flag_out_of_range_ends_in_one_line(tool, args, expected):
    proc = run_tool(tool, *args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == 'error: {} (see --help)'.format(
        expected)
