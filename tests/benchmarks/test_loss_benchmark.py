"""benchmarks/loss_benchmark.py at a tiny size in this process: every
contender timed, table and JSON written; the per-bin-loop contender computes
the same loss as ppdet_ghm's GHM-C (a fair comparison).  One subprocess test
checks that ``tools/benchmark_losses.py`` forwards its flags."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import paddle

import ppdet_ghm

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BENCHMARKS = os.path.join(ROOT, 'benchmarks')
if BENCHMARKS not in sys.path:  # a folder of scripts importing each other
    sys.path.insert(0, BENCHMARKS)
import bench_losses  # noqa: E402
import loss_benchmark  # noqa: E402


def test_tiny_run_times_every_contender(tmp_path, capsys):
    out = str(tmp_path / 'losses.json')
    record = loss_benchmark.main(['--anchors', '3000', '--classes', '4',
                                  '--repeats', '1', '--output', out])
    stdout = capsys.readouterr().out
    with open(out) as f:
        assert json.load(f) == record
    assert record['anchors'] == 3000 and record['classes'] == 4
    names = [name for name, _ in bench_losses.ROWS]
    assert sorted(record['seconds']) == sorted(names)
    assert all(t > 0 and math.isfinite(t) for t in record['seconds'].values())
    assert stdout.startswith('input: 3000 anchors x 4 classes, ')
    for name in names:
        assert '| {} |'.format(name) in stdout
    assert '| FocalLoss (ppdet) | {:.4f} | 1.00x |'.format(
        record['seconds']['FocalLoss (ppdet)']) in stdout
    assert 'GHM-C speed-up over the per-bin loop: ' in stdout


def test_skip_loop_leaves_out_the_per_bin_loop(capsys):
    record = loss_benchmark.main(['--anchors', '2000', '--classes', '3',
                                  '--repeats', '1', '--skip_loop'])
    assert 'GHM-C per-bin loop' not in record['seconds']
    assert 'per-bin loop' not in capsys.readouterr().out


def test_inputs_and_the_per_bin_loop_match_ghm_c():
    logits, labels, weights, num_pos = bench_losses.make_cls_inputs(5000, 6, 0)
    assert logits.shape == (5000, 6) and 0 < num_pos == (labels < 6).sum()
    assert 0 < (weights == 0).sum() < 0.1 * 5000
    assert (weights[labels < 6] == 1).all()
    tensors = [paddle.to_tensor(a) for a in (logits, labels, weights)]
    ours = ppdet_ghm.GHMCLoss(bins=30, momentum=0.75)
    acc_sum = np.zeros(30, dtype=np.float32)
    for _ in range(2):   # the EMA too
        loop = bench_losses.per_bin_loop_ghmc(*tensors, acc_sum, 30, 0.75)
        assert math.isclose(float(loop), float(ours(*tensors)), rel_tol=1e-5)


def test_tool_forwards_flags_and_exit_code():
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'benchmark_losses.py'),
         '--anchors', 'many'],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--anchors: invalid int value: 'many'" \
        in proc.stderr
