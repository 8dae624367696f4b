"""Train a detector (PaddleDetection's trainer, ppdet_ghm's modules).

    python tools/train.py -c configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml --eval
    python -m paddle.distributed.launch --gpus 0,1,2,3 tools/train.py -c CONFIG --eval
    python -m paddle.distributed.launch --nproc_per_node 2 tools/train.py -c CONFIG  # CPU
"""
import sys

from _common import ArgsParser, fail, load_tool_config

from ppdet_ghm.data import DatasetError
from ppdet_ghm.engine import (NonFiniteLossError, OutputError,
                              TrainingInterrupted, train)
from ppdet_ghm.utils import ConfigError, WeightsError


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
    try:
        result = train(cfg, evaluate=args.eval, resume=args.resume,
                       seed=args.seed, fleet=args.fleet)
    except (ConfigError, DatasetError, WeightsError, NonFiniteLossError,
            OutputError) as err:
        fail(err)
    except TrainingInterrupted as err:
        print('training interrupted by {} at epoch {}, step {}; latest '
              'checkpoint: {}'.format(err.signal_name, err.epoch, err.step,
                                      err.latest_checkpoint or 'none yet'),
              file=sys.stderr)
        sys.exit(130 if err.signal_name == 'SIGINT' else 143)
    if result.skipped:
        print('warning: {} step(s) skipped for a non-finite loss: iterations '
              '{}'.format(len(result.skipped), [i for i, _ in result.skipped]),
              file=sys.stderr)


if __name__ == '__main__':
    main()
