"""tools/run_demo.sh end to end on a tiny schedule: every step runs, the
summary is this run's own, and nothing tracked in git changes (run outputs
go to ignored folders).  One deliberate slow test (~1-2 minutes here)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def git(*args):
    return subprocess.run(['git', '-C', ROOT] + list(args), capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.skipif(not os.path.exists(os.path.join(ROOT, '.git')),
                    reason='needs the git checkout')
def test_the_demo_script_writes_only_run_outputs(tmp_path):
    before = git('status', '--porcelain')
    out, save_dir = tmp_path / 'demo', tmp_path / 'runs'
    env = dict(os.environ, PPDET_GHM_VENV=sys.prefix)
    proc = subprocess.run(
        ['bash', os.path.join(ROOT, 'tools', 'run_demo.sh'), '--out', str(out),
         '--data', str(tmp_path / 'data'), '--num_train', '16', '--num_val', '8',
         '-o', 'epoch=1', 'snapshot_epoch=1', 'save_dir={}'.format(save_dir),
         'TrainReader.batch_size=2', 'log_iter=1',
         'GHMRetinaPostProcess.score_threshold=0.0'],   # one epoch: keep every score
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert git('status', '--porcelain') == before
    name = 'retinanet_ghm_demo'
    for path in [name + '.train.log', name + '.eval.txt', name + '.detections.png',
                 'gradients/gradient_norms.png', 'loss_curves.png', 'ap_minutes.png',
                 name + '/eval_records.jsonl', name + '/loss_rank0.jsonl']:
        assert (out / path).is_file(), path
    # the summary is the one run of this call, read from its records
    table = [l for l in proc.stdout.splitlines() if l.startswith('|')]
    assert len(table) == 3 and table[2].startswith('| GHM-C + GHM-R | 1 | ')
    # by default the pictures and tables go to an ignored folder
    ignored = subprocess.run(['git', '-C', ROOT, 'check-ignore', '-q',
                              'output/demo/ap_minutes.png'])
    assert ignored.returncode == 0


def test_an_unknown_argument_is_refused_in_one_line():
    proc = subprocess.run(['bash', os.path.join(ROOT, 'tools', 'run_demo.sh'), '--fast'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == ("error: run_demo.sh: unknown argument '--fast' (see the "
                           "header of tools/run_demo.sh)\n")
