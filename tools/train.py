"""Train a detector (PaddleDetection's trainer, ppdet_ghm's modules).

    python tools/train.py -c configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml --eval
    python -m paddle.distributed.launch --gpus 0,1,2,3 tools/train.py -c CONFIG --eval
    python -m paddle.distributed.launch --nproc_per_node 2 tools/train.py -c CONFIG  # CPU
"""
import os
import sys

from _common import (ArgsParser, WeightsError, check_datasets, fail,
                     load_tool_config, make_trainer)

import paddle.distributed as dist
from ppdet.engine import init_fleet_env, init_parallel_env, set_random_seed

from ppdet_ghm.engine import (NonFiniteLossError, NonFiniteLossGuard,
                              PendingSignalCheck, RankLossLogger,
                              TrainingInterrupted, install_atomic_checkpoints,
                              install_signal_handlers, latest_checkpoint,
                              raise_pending_interrupt)
from ppdet_ghm.utils import (check_resume_checkpoint, resolve_pretrain_weights,
                             resolve_weights_path)


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--eval', action='store_true',
                        help='evaluate after each snapshot epoch')
    parser.add_argument('-r', '--resume', default=None,
                        help='checkpoint to resume from (weights + optimizer)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision')
    parser.add_argument('--fleet', action='store_true',
                        help='distributed training with fleet')
    parser.add_argument('--use_vdl', action='store_true',
                        help='log to VisualDL')
    parser.add_argument('--vdl_log_dir', default='vdl_log_dir/scalar')
    parser.add_argument('--seed', type=int, default=None,
                        help='random seed (also makes data order reproducible)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    extra = {'use_vdl': args.use_vdl, 'vdl_log_dir': args.vdl_log_dir}
    if args.amp:
        extra['amp'] = True
    cfg = load_tool_config(args, **extra)
    if args.fleet:
        init_fleet_env(cfg.get('find_unused_parameters', False))
    elif dist.get_world_size() > 1:
        init_parallel_env()
    if args.seed is not None:
        set_random_seed(args.seed)

    try:
        resume = resolve_weights_path(args.resume) if args.resume else None
        pretrain = None if resume else resolve_pretrain_weights(
            cfg.get('pretrain_weights'))
    except WeightsError as err:
        fail(err)

    check_datasets(cfg, 'TrainDataset', *(['EvalDataset'] if args.eval else []))
    trainer = make_trainer(cfg, 'train')
    try:
        guard = NonFiniteLossGuard(trainer, cfg.get('nonfinite_loss', 'stop'))
    except ValueError as err:
        fail('{}: {}'.format(args.config, err))
    trainer.register_callbacks([RankLossLogger(trainer), guard,
                                PendingSignalCheck(trainer)])
    install_atomic_checkpoints()
    if resume:
        try:
            resume = check_resume_checkpoint(trainer.model, resume)
        except WeightsError as err:
            fail(err)
        trainer.resume_weights(resume)
        # The sampler shuffles with its epoch as seed: continue its count.
        # The loader's iterator already drew from the sampler (it prefetches
        # from construction on), so start a new one after set_epoch.
        sampler = getattr(trainer.loader, '_batch_sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(trainer.start_epoch)
            trainer.loader.loader = iter(trainer.loader.dataloader)
    elif pretrain:
        trainer.load_weights(pretrain)
    install_signal_handlers()
    save_dir = os.path.join(cfg.save_dir, cfg.filename)
    try:
        trainer.train(args.eval)
        raise_pending_interrupt()   # a signal held during the last step
    except NonFiniteLossError as err:
        fail('{}; latest checkpoint: {}'.format(
            err, latest_checkpoint(save_dir) or 'none yet'))
    except TrainingInterrupted as err:
        print('training interrupted by {} at epoch {}, step {}; latest '
              'checkpoint: {}'.format(err.signal_name, guard.epoch, guard.step,
                                      latest_checkpoint(save_dir) or 'none yet'),
              file=sys.stderr)
        sys.exit(130 if err.signal_name == 'SIGINT' else 143)
    if guard.skipped:
        print('warning: {} step(s) skipped for a non-finite loss: iterations '
              '{}'.format(len(guard.skipped), [i for i, _ in guard.skipped]),
              file=sys.stderr)


if __name__ == '__main__':
    main()
