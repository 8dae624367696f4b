"""tools/benchmark.py end to end at a tiny size: table and JSON written, every
variant measured, numbers positive, ratios consistent with the medians.
Timing itself is never asserted."""
import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TOOL = os.path.join(ROOT, 'tools', 'benchmark.py')
VARIANTS = ['ppdet_fl', 'ghm', 'fl_sl1', 'ghm_p5']

sys.path.insert(0, os.path.join(ROOT, 'tools'))
import benchmark  # noqa: E402


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('benchmark'))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([ROOT, env.get('PYTHONPATH', '')])
    proc = subprocess.run(
        [sys.executable, TOOL, '--tiny', '--image_size', '64', '--steps', '1',
         '--warmup', '0', '--infer_steps', '1', '--infer_warmup', '0',
         '--output_dir', out],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(os.path.join(out, 'benchmark.json')) as f:
        data = json.load(f)
    with open(os.path.join(out, 'benchmark.txt')) as f:
        text = f.read()
    return proc.stdout, text, data


def test_table_lists_every_variant(run):
    stdout, text, data = run
    for _, label, _, _ in benchmark.VARIANTS:
        assert '| {} |'.format(label) in text
        assert '| {} |'.format(label) in stdout
    assert 'machine:' in text and 'paddle' in text
    assert [r['variant'] for r in data['rows']] == VARIANTS
    assert data['machine']['cores'] >= 1 and data['machine']['cpu']


def test_numbers_positive_and_ratios_match_medians(run):
    _, _, data = run
    runs, base = data['runs'], data['runs']['ppdet_fl']
    for row in data['rows']:
        train, infer = runs[row['variant']]['train'], runs[row['variant']]['infer']
        for key in ('train_step_s', 'infer_images_per_s', 'train_peak_rss_mb',
                    'infer_peak_rss_mb', 'train_allocator_mb',
                    'infer_allocator_mb'):
            assert row[key] > 0 and math.isfinite(row[key])
        assert row['train_step_s'] == train['median'] == train['times'][0]
        assert math.isclose(row['train_ratio'],
                            train['median'] / base['train']['median'])
        assert math.isclose(row['infer_images_per_s'], 1 / infer['median'])
        assert math.isclose(row['infer_ratio'],
                            infer['images_per_s'] / base['infer']['images_per_s'])
        assert math.isclose(row['train_rss_ratio'],
                            train['peak_rss_mb'] / base['train']['peak_rss_mb'])
        assert math.isclose(row['infer_rss_ratio'],
                            infer['peak_rss_mb'] / base['infer']['peak_rss_mb'])
        assert math.isclose(row['train_allocator_ratio'], train['allocator_peak_mb']
                            / base['train']['allocator_peak_mb'])
        assert math.isclose(row['infer_allocator_ratio'], infer['allocator_peak_mb']
                            / base['infer']['allocator_peak_mb'])
        # weights are allocated before any step
        assert train['allocator_peak_mb'] > train['allocator_after_build_mb'] > 0
    baseline = data['rows'][0]
    assert baseline['train_ratio'] == baseline['infer_ratio'] == 1.0


def test_every_model_trained_on_the_same_batch(run):
    _, _, data = run
    for variant in VARIANTS:
        train = data['runs'][variant]['train']
        assert train['batch_digest'] == data['batch_digests']['train']
        assert data['runs'][variant]['infer']['batch_digest'] == \
            data['batch_digests']['infer']
        first = train['first_step']
        assert all(math.isfinite(v) for v in first['losses'].values())
        assert first['gradients']['with_gradient'] > 0
    heads = {v: data['runs'][v]['train']['head'] for v in VARIANTS}
    assert heads == {'ppdet_fl': 'RetinaHead', 'ghm': 'GHMRetinaHead',
                     'fl_sl1': 'GHMRetinaHead', 'ghm_p5': 'GHMRetinaHead'}
    params = {v: data['runs'][v]['train']['parameters'] for v in VARIANTS}
    # on PaddleDetection's FPN our detector is the same network as its own
    assert params['ghm_p5'] == params['ppdet_fl'] < params['ghm'] == params['fl_sl1']
    assert {t['variant'] for t in data['targets']} == {'ghm', 'ghm_p5'}
    assert all(isinstance(t['met'], bool) for t in data['targets'])


def test_synthetic_batch_is_deterministic_and_in_reader_format():
    a = benchmark.synthetic_batch(2, 64, seed=0)
    b = benchmark.synthetic_batch(2, 64, seed=0)
    assert benchmark.batch_digest(a) == benchmark.batch_digest(b)
    assert benchmark.batch_digest(a) != benchmark.batch_digest(
        benchmark.synthetic_batch(2, 64, seed=1))
    assert a['image'].shape == (2, 3, 64, 64)
    assert len(a['gt_bbox']) == len(a['gt_class']) == 2
    for boxes, classes in zip(a['gt_bbox'], a['gt_class']):
        assert boxes.shape[1] == 4 and classes.shape == (boxes.shape[0], 1)
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        assert boxes.min() >= 0 and boxes.max() <= 64
        assert classes.dtype.name == 'int32' and 0 <= classes.min() <= classes.max() < 80


def test_unknown_variant_is_a_clear_error():
    proc = subprocess.run([sys.executable, TOOL, '--variants', 'ppdet_fl,nope'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and 'nope' in proc.stderr
