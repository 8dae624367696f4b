"""Run by tests/losses/test_ghm_sync.py under paddle.distributed.launch with 2
processes: each rank feeds its half of the reference batches to GHM-C/GHM-R
(with and without sync_across_ranks) and writes what it saw to OUT/rank<r>.json.

    python -m paddle.distributed.launch --nproc_per_node 2 tests/losses/dist_ghm_sync.py DATA.npz OUT
"""
import json
import os
import sys

import numpy as np
import paddle
import paddle.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..'))
from ppdet_ghm import GHMCLoss, GHMRLoss  # noqa: E402


def main(data_path, out_dir):
    paddle.set_device('cpu')
    if dist.get_world_size() > 1:
        dist.init_parallel_env()
    rank, world = dist.get_rank(), dist.get_world_size()
    arrays = dict(np.load(data_path))
    result = {'world': world}
    for sync in (True, False):
        ghmc = GHMCLoss(bins=30, momentum=0.75, sync_across_ranks=sync)
        ghmr = GHMRLoss(mu=0.02, bins=10, momentum=0.7, sync_across_ranks=sync)
        losses = []
        for i in range(3):
            c = [arrays['ghmc_call{}_{}'.format(i, k)] for k in ('pred', 'labels', 'label_w')]
            r = [arrays['ghmr_call{}_{}'.format(i, k)] for k in ('pred_a', 'tgt_a', 'w')]
            half_c, half_r = len(c[0]) // world, len(r[0]) // world
            c = [paddle.to_tensor(a[rank * half_c:(rank + 1) * half_c]) for a in c]
            r = [paddle.to_tensor(a[rank * half_r:(rank + 1) * half_r]) for a in r]
            losses.append([float(ghmc(*c)), float(ghmr(*r))])
        result['sync' if sync else 'local'] = {
            'losses': losses, 'ghmc_acc': ghmc.acc_sum.numpy().tolist(),
            'ghmr_acc': ghmr.acc_sum.numpy().tolist()}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'rank{}.json'.format(rank)), 'w') as f:
        json.dump(result, f)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
