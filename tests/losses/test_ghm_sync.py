"""sync_across_ranks: two processes (gloo on CPU) hold identical EMA states,
equal to one process on the concatenated batch."""
import json
import os
import subprocess
import sys

import numpy as np
from conftest import FIXTURES

from ppdet_ghm import GHMCLoss, GHMRLoss

HERE = os.path.dirname(os.path.abspath(__file__))


def single_process(arrays):
    ghmc, ghmr = GHMCLoss(30, 0.75), GHMRLoss(0.02, 10, 0.7)
    losses = []
    for i in range(3):
        c = [arrays['ghmc_call{}_{}'.format(i, k)] for k in ('pred', 'labels', 'label_w')]
        r = [arrays['ghmr_call{}_{}'.format(i, k)] for k in ('pred_a', 'tgt_a', 'w')]
        import paddle
        losses.append([float(ghmc(*map(paddle.to_tensor, c))),
                       float(ghmr(*map(paddle.to_tensor, r)))])
    return losses, ghmc.acc_sum.numpy(), ghmr.acc_sum.numpy()


def test_two_ranks_sync_to_the_single_process_state(ghm_reference, tmp_path):
    arrays, _ = ghm_reference
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', '2',
         '--log_dir', str(tmp_path / 'log'), os.path.join(HERE, 'dist_ghm_sync.py'),
         os.path.join(FIXTURES, 'ghm_reference.npz'), str(out)],
        capture_output=True, text=True, timeout=300)
    logs = ''.join(open(os.path.join(tmp_path / 'log', f)).read()
                   for f in os.listdir(tmp_path / 'log'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs[-3000:]
    ranks = [json.load(open(out / 'rank{}.json'.format(r))) for r in (0, 1)]
    assert [r['world'] for r in ranks] == [2, 2]
    losses, ghmc_acc, ghmr_acc = single_process(arrays)
    for r in ranks:
        np.testing.assert_allclose(r['sync']['ghmc_acc'], ghmc_acc, rtol=1e-6)
        np.testing.assert_allclose(r['sync']['ghmr_acc'], ghmr_acc, rtol=1e-6)
    # the ranks' losses average to the single-process loss (gradients likewise)
    mean = (np.array(ranks[0]['sync']['losses']) + np.array(ranks[1]['sync']['losses'])) / 2
    np.testing.assert_allclose(mean, losses, rtol=1e-5)
    # without the option every rank keeps its own histogram (the reference)
    assert not np.allclose(ranks[0]['local']['ghmc_acc'], ranks[1]['local']['ghmc_acc'])
    np.testing.assert_allclose(
        np.array(ranks[0]['local']['ghmc_acc']) + np.array(ranks[1]['local']['ghmc_acc']),
        ghmc_acc, rtol=1e-5)
