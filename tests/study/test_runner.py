"""The study runner end to end on a tiny study (2 variants x 2 seeds x 2
epochs of 2 steps, two processes as the demo trains), continuing a stopped
study, reusing runs, failed runs, and the errors before any training."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from ppdet_ghm.study import (StudyError, load_study, read_records, run_study,
                             run_fingerprint)
from ppdet_ghm.study.runner import write_run_config
from tiny_demo import DEMO_CONFIG, EXPLODING_LR, ROOT, TINY_MODEL

TINY_OPTIONS = dict(TINY_MODEL, TrainReader={'batch_size': 2}, use_ema=False,
                    log_iter=1)
FL = {'GHMRetinaHead': {'loss_class': 'FocalLoss', 'loss_bbox': 'SmoothL1Loss'},
      'FocalLoss': {'use_sigmoid': True, 'gamma': 2.0, 'alpha': 0.25,
                    'loss_weight': 1.0},
      'SmoothL1Loss': {'beta': 0.11, 'loss_weight': 1.0}}


def write_study(folder, data_dir, **changes):
    raw = {'name': 'tiny', 'base_config': DEMO_CONFIG,
           'dataset': {'dataset_dir': data_dir},
           'schedule': {'epochs': 2, 'snapshot_epoch': 1, 'processes': 2},
           'seeds': [0, 1], 'options': TINY_OPTIONS,
           'variants': {'fl_sl1': {'label': 'FL + SL1', 'options': FL},
                        'ghm': {'label': 'GHM'}},
           'baseline': 'fl_sl1'}
    raw.update(changes)
    path = os.path.join(str(folder), 'study.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(raw, f)
    return path


@pytest.fixture(scope='module')
def stopped_then_continued(tmp_path_factory, tiny_data):
    """The tiny study stopped after 2 of its 4 runs, then continued."""
    folder = tmp_path_factory.mktemp('study')
    study = load_study(write_study(folder, tiny_data))
    out = str(folder / 'out')
    first = run_study(study, out, max_runs=2, stream=open(os.devnull, 'w'))
    finished = {name: os.path.getmtime(os.path.join(
        out, 'runs', name, 'seed0', 'train', 'model_final.pdparams'))
        for name in ('fl_sl1', 'ghm')}
    progress = folder / 'progress.txt'
    with open(progress, 'w') as stream:
        second = run_study(study, out, stream=stream)
    return study, out, first, second, finished, progress.read_text()


def test_records_come_from_the_trainings_own_evaluation_records(
        stopped_then_continued):
    study, out, _, _, _, _ = stopped_then_continued
    records = read_records(os.path.join(out, 'records.jsonl'))
    assert len(records) == 4 * 2               # 4 runs x 2 evaluations
    for record in records:
        assert record['status'] == 'ok' and record['study'] == 'tiny'
        assert set(record['bbox']) >= {'AP', 'AP50', 'AP75', 'AP_small',
                                       'AP_medium', 'AP_large', 'AR100'}
        assert record['minutes'] >= record['train_minutes'] > 0
        assert record['run_minutes'] > record['minutes']
        assert record['machine'].endswith('CPUs, paddlepaddle 3.3.1')
        run_dir = os.path.join(out, 'runs', record['variant'],
                               'seed{}'.format(record['seed']))
        own = read_records(os.path.join(run_dir, 'train', 'eval_records.jsonl'))
        mine = own[record['epoch'] - 1]
        assert {k: record[k] for k in mine} == mine
    assert [(r['variant'], r['seed'], r['epoch']) for r in records] == [
        ('fl_sl1', 0, 1), ('fl_sl1', 0, 2), ('ghm', 0, 1), ('ghm', 0, 2),
        ('fl_sl1', 1, 1), ('fl_sl1', 1, 2), ('ghm', 1, 1), ('ghm', 1, 2)]
    fingerprints = {r['run']: r['fingerprint'] for r in records}
    assert fingerprints['ghm/seed1'] == run_fingerprint(
        study, [r for r in study.runs() if r.name == 'ghm/seed1'][0])
    assert len(set(fingerprints.values())) == 4


def test_a_stopped_study_continues_without_repeating_finished_runs(
        stopped_then_continued):
    _, out, first, second, finished, progress = stopped_then_continued
    assert first['runs'] == {'total': 4, 'finished': 2}
    assert second['runs'] == {'total': 4, 'finished': 4}
    assert '4 runs (2 variants x 1 noise levels x 2 seeds), 2 finished, 2 to run' in progress
    assert '[3/4] fl_sl1/seed1: box AP' in progress and '[4/4] ghm/seed1' in progress
    assert 'left, about' in progress and '[1/4]' not in progress
    for name, mtime in finished.items():   # seed 0's runs were not trained again
        assert os.path.getmtime(os.path.join(
            out, 'runs', name, 'seed0', 'train', 'model_final.pdparams')) == mtime
    # epoch snapshots pruned, model_final kept
    assert sorted(os.listdir(os.path.join(out, 'runs', 'ghm', 'seed1', 'train'))) == [
        'eval_records.jsonl', 'loss_rank0.jsonl', 'loss_rank1.jsonl',
        'model_final.pdopt', 'model_final.pdparams']


def test_the_table_and_the_plot_are_written(stopped_then_continued):
    _, out, _, second, _, _ = stopped_then_continued
    table = open(os.path.join(out, 'results.md')).read()
    assert '4 of 4 runs finished' in table
    ghm = [row for row in second['rows'] if row['key'] == 'ghm'][0]
    assert '| GHM | 2 | {:.3f} ± {:.3f} |'.format(
        ghm['AP']['mean'], ghm['AP']['std']) in table
    assert json.load(open(os.path.join(out, 'results.json')))['runs'][
        'finished'] == 4
    with open(os.path.join(out, 'ap_minutes.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_changed_settings_under_a_finished_runs_name_are_refused(
        stopped_then_continued, tmp_path, tiny_data):
    _, out, _, _, _, _ = stopped_then_continued
    changed = load_study(write_study(tmp_path, tiny_data, variants={
        'fl_sl1': {'options': dict(FL, GHMCLoss={'bins': 10})},
        'ghm': {'options': {'GHMCLoss': {'bins': 10}}}}))
    with pytest.raises(StudyError, match=r'records of run fl_sl1/seed0 were '
                       r'made with other settings'):
        run_study(changed, out, stream=open(os.devnull, 'w'))


def test_finished_runs_of_another_study_are_reused(stopped_then_continued,
                                                    tmp_path, tiny_data):
    _, out, _, _, _, _ = stopped_then_continued
    # the same trainings as clean levels of a noise study (3 seeds: seed 2 new)
    study = load_study(write_study(tmp_path, tiny_data, seeds=[0, 1],
                                   noise={'clean': {}}))
    progress = tmp_path / 'progress.txt'
    with open(progress, 'w') as stream:
        summary = run_study(study, str(tmp_path / 'out'), reuse=[out],
                            stream=stream)
    assert summary['runs'] == {'total': 4, 'finished': 4}
    assert progress.read_text().count('reused from') == 4
    assert not os.path.exists(tmp_path / 'out' / 'runs')
    records = read_records(str(tmp_path / 'out' / 'records.jsonl'))
    assert {r['run'] for r in records} == {'fl_sl1@clean/seed0',
                                           'ghm@clean/seed0',
                                           'fl_sl1@clean/seed1',
                                           'ghm@clean/seed1'}


def test_a_failed_run_is_recorded_and_the_study_goes_on(tmp_path, tiny_data):
    config = tmp_path / 'exploding.yml'
    config.write_text("_BASE_: ['{}']\n{}".format(DEMO_CONFIG, EXPLODING_LR))
    study = load_study(write_study(
        tmp_path, tiny_data, base_config=str(config), seeds=[0],
        variants={'ghm': {'label': 'GHM'}}, baseline='ghm'))
    summary = run_study(study, str(tmp_path / 'out'),
                        stream=open(os.devnull, 'w'))
    records = read_records(str(tmp_path / 'out' / 'records.jsonl'))
    assert [r['status'] for r in records] == ['ok', 'failed']
    assert records[1]['error'].startswith('error: ')
    assert 'non-finite' in records[1]['error'] and records[1]['epoch'] == 1
    assert summary['rows'][0]['failed'] == {0: records[1]['error']}
    assert summary['runs'] == {'total': 1, 'finished': 1}


def test_noisy_runs_train_on_noisy_annotations_and_evaluate_on_clean_ones(
        tmp_path, tiny_data):
    study = load_study(write_study(tmp_path, tiny_data, noise={
        'clean': {}, 'm': {'missing': 0.5}}))
    run = [r for r in study.runs() if r.key == 'ghm@m'][0]
    from ppdet_ghm.study.runner import _train_annotations
    anno = _train_annotations(study, run, str(tmp_path / 'out'))
    path = write_run_config(study, run, str(tmp_path / 'run'), anno, 4)
    with open(path) as f:
        text = f.read()
    config = yaml.load(text.replace('!', ''), Loader=yaml.SafeLoader)
    assert config['TrainDataset']['anno_path'] == anno
    assert config['TrainDataset']['allow_empty'] is True
    assert config['EvalDataset']['anno_path'] == 'annotations/instances_val.json'
    with open(anno) as f:
        noisy = json.load(f)
    with open(os.path.join(tiny_data, 'annotations', 'instances_train.json')) as f:
        clean = json.load(f)
    assert len(noisy['annotations']) == len(clean['annotations']) - round(
        0.5 * len(clean['annotations']))
    assert noisy['images'] == clean['images']
    clean_run = [r for r in study.runs() if r.key == 'ghm@clean'][0]
    assert _train_annotations(study, clean_run, str(tmp_path / 'out')) == \
        'annotations/instances_train.json'


def test_missing_data_and_refused_options_stop_before_any_training(
        tmp_path, tiny_data):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(StudyError, match=r"dataset.train.anno_path: no "
                       r"annotation file at '.*empty/annotations/instances_train.json'"):
        run_study(load_study(write_study(tmp_path, str(empty))),
                  str(tmp_path / 'out'), stream=open(os.devnull, 'w'))
    bad = load_study(write_study(tmp_path, tiny_data, variants={
        'fl_sl1': {'options': FL},
        'ghm': {'options': {'GHMCLoss': {'binz': 30}}}}))
    with pytest.raises(StudyError, match=r'variants.ghm: the trainer refuses '
                       r'the config: .*binz'):
        run_study(bad, str(tmp_path / 'out2'), stream=open(os.devnull, 'w'))
    assert not os.path.exists(tmp_path / 'out2' / 'runs')


def test_the_tool_ends_a_bad_study_file_in_one_line(tmp_path):
    path = tmp_path / 'bad.yml'
    path.write_text('seeds: [0]\n')
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'run_study.py'),
                           str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == \
        "error: {}: missing key 'base_config'".format(path)


def test_fingerprints_follow_the_data_not_its_location(tmp_path, tiny_data):
    import shutil
    moved = str(tmp_path / 'moved')
    shutil.copytree(tiny_data, moved)
    here = load_study(write_study(tmp_path, tiny_data))
    there = load_study(write_study(tmp_path, moved))
    run = here.runs()[0]
    assert run_fingerprint(here, run) == run_fingerprint(there, run)
    anno = os.path.join(moved, 'annotations', 'instances_train.json')
    with open(anno) as f:
        coco = json.load(f)
    coco['annotations'] = coco['annotations'][1:]
    with open(anno, 'w') as f:
        json.dump(coco, f)
    assert run_fingerprint(here, run) != run_fingerprint(there, run)
    assert len({run_fingerprint(here, r) for r in here.runs()}) == 4


def test_images_emptied_by_the_noise_train_as_background(tmp_path, tiny_data):
    from ppdet.data.source.coco import COCODataSet

    from ppdet_ghm.engine import load_config, train
    from ppdet_ghm.study.runner import _train_annotations
    study = load_study(write_study(tmp_path, tiny_data, seeds=[0], noise={
        'none_left': {'missing': 1.0}}, schedule={'epochs': 1}))
    run = study.runs()[0]
    anno = _train_annotations(study, run, str(tmp_path / 'out'))
    path = write_run_config(study, run, str(tmp_path / 'run'), anno, 4)
    with open(path) as f:
        train_set = yaml.load(f.read().replace('!', ''),
                              Loader=yaml.SafeLoader)['TrainDataset']
    dataset = COCODataSet(**train_set)
    dataset.parse_dataset()
    assert len(dataset.roidbs) == 8            # every image, none has a box
    assert all(len(r.get('gt_bbox', [])) == 0 for r in dataset.roidbs)
    # and they train (one epoch of images without any box)
    result = train(load_config(path, stream=open(os.devnull, 'w')), seed=0)
    with open(os.path.join(result.save_dir, 'loss_rank0.jsonl')) as f:
        losses = [json.loads(line) for line in f]
    assert len(losses) == 4 and all(l['loss_bbox'] == 0.0 for l in losses)


def test_sigterm_to_the_tool_stops_the_training_under_way(tmp_path, tiny_data):
    import signal
    import time
    study = write_study(tmp_path, tiny_data, schedule={
        'epochs': 50, 'snapshot_epoch': 50, 'processes': 2})
    out = str(tmp_path / 'out')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'tools', 'run_study.py'),
                             study, '--output_dir', out], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    loss_log = os.path.join(out, 'runs', 'fl_sl1', 'seed0', 'train', 'loss_rank0.jsonl')
    deadline = time.time() + 120
    while not os.path.exists(loss_log) and time.time() < deadline:
        time.sleep(0.5)
    assert os.path.exists(loss_log), 'the first run did not start training'
    start = time.time()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 143
    stopped = time.time() - start
    left = subprocess.run(['pgrep', '-f', out], capture_output=True, text=True).stdout
    assert left == '', 'training processes left: ' + left
    assert stopped < 60
    assert not os.path.exists(os.path.join(out, 'records.jsonl'))  # no run ended
