"""benchmarks/detector_benchmark.py end to end at a tiny size (in this
process; the workers are subprocesses as always): table and JSON written,
every variant measured, numbers positive, ratios consistent with the medians.
Timing itself is never asserted.  One subprocess test checks that
``tools/benchmark.py`` forwards its flags and exit code."""
import contextlib
import io
import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BENCHMARKS = os.path.join(ROOT, 'benchmarks')
if BENCHMARKS not in sys.path:  # a folder of scripts importing each other
    sys.path.insert(0, BENCHMARKS)
import bench_batch  # noqa: E402
import bench_jobs  # noqa: E402
import bench_variants  # noqa: E402
import detector_benchmark  # noqa: E402

VARIANTS = ['ppdet_fl', 'ghm', 'fl_sl1', 'ghm_p5']


@contextlib.contextmanager
def environ_restored(name):
    """Undo what the block does to ``os.environ[name]``."""
    saved = os.environ.get(name)
    try:
        yield saved
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('benchmark'))
    stdout = io.StringIO()
    with environ_restored('OMP_NUM_THREADS') as threads, \
            contextlib.redirect_stdout(stdout):
        data = detector_benchmark.main(
            ['--tiny', '--image_size', '64', '--steps', '1', '--warmup', '0',
             '--infer_steps', '1', '--infer_warmup', '0', '--pause', '0',
             '--output_dir', out])
    with open(os.path.join(out, 'benchmark.txt')) as f:
        text = f.read()
    with open(os.path.join(out, 'benchmark.json')) as f:
        assert json.load(f) == json.loads(json.dumps(data))  # what main returns
    return stdout.getvalue(), text, data, threads


def test_table_lists_every_variant(run):
    stdout, text, data, threads = run
    for _, label, _, _ in bench_variants.VARIANTS:
        assert '| {} |'.format(label) in text
        assert '| {} |'.format(label) in stdout
    assert 'machine:' in text and 'paddle' in text
    assert [r['variant'] for r in data['rows']] == VARIANTS
    assert data['machine']['cores'] >= 1 and data['machine']['cpu']
    # every core unless the caller chose; the workers inherit it
    assert data['machine']['omp_num_threads'] == \
        (threads or str(os.cpu_count()))


def test_numbers_positive_and_ratios_match_medians(run):
    _, _, data, _ = run
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
    _, _, data, _ = run
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


@pytest.mark.parametrize('variant', ['ppdet_fl', 'ghm'])
def test_breakdown_step_is_the_training_step(variant):
    """--breakdown's sectioned step (backbone, neck, the head's convs by
    ppdet_ghm's head_outputs, the head's get_loss) computes the very loss of
    the model's own forward, for PaddleDetection's head and ours."""
    args = detector_benchmark.parse_args(['--tiny', '--image_size', '64'])
    batch = bench_batch.synthetic_batch(args.batch_size, args.image_size, 0)
    config, overrides = bench_variants.variant_config(variant)
    jobs = [job(args, bench_variants.build_model(config, True, 0, overrides),
                batch) for job in (bench_jobs.TrainJob, bench_jobs.ProfileJob)]
    whole, sections = [job.step() for job in jobs]
    assert sections['loss'] == whole['loss']
    assert list(sections['sections']) == bench_jobs.ProfileJob.SECTIONS
    assert all(t >= 0 for t in sections['sections'].values())
    assert math.isclose(sections['time'],
                        sum(list(sections['sections'].values())[:6]))


def test_synthetic_batch_is_deterministic_and_in_reader_format():
    a = bench_batch.synthetic_batch(2, 64, seed=0)
    b = bench_batch.synthetic_batch(2, 64, seed=0)
    assert bench_batch.batch_digest(a) == bench_batch.batch_digest(b)
    assert bench_batch.batch_digest(a) != bench_batch.batch_digest(
        bench_batch.synthetic_batch(2, 64, seed=1))
    assert a['image'].shape == (2, 3, 64, 64)
    assert len(a['gt_bbox']) == len(a['gt_class']) == 2
    for boxes, classes in zip(a['gt_bbox'], a['gt_class']):
        assert boxes.shape[1] == 4 and classes.shape == (boxes.shape[0], 1)
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        assert boxes.min() >= 0 and boxes.max() <= 64
        assert classes.dtype.name == 'int32' and 0 <= classes.min() <= classes.max() < 80
    infer = bench_batch.infer_batch(2, 1, 64, seed=0)
    assert sorted(infer) == ['im_shape', 'image', 'scale_factor']
    assert (infer['image'] == a['image'][:1]).all()


@pytest.mark.parametrize('flags, message', [
    (['--variants', 'ppdet_fl,nope'], 'nope'),
    (['--variants', 'ghm'], 'baseline ppdet_fl'),
    (['--steps', '0'], '--steps must be >= 1')])
def test_bad_arguments_are_clear_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        detector_benchmark.parse_args(flags)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_tool_forwards_flags_and_exit_code():
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'benchmark.py'),
         '--variants', 'ppdet_fl,nope'],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'nope' in proc.stderr
