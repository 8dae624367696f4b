"""The training command line (``tools/train.py``), in the package so that
``paddle.distributed.launch`` can start it from anywhere (the study runner
does, with a one-line entry script).

    python tools/train.py -c CONFIG [--eval] [--seed N] [-r CHECKPOINT] [-o k=v ...]

Known errors end in one line (exit 2); SIGINT/SIGTERM end with 130/143 after
naming the latest checkpoint.
"""
import sys

from ..data import DatasetError
from ..utils import ConfigError, WeightsError
from .checkpoints import OutputError
from .cli import ArgsParser, fail
from .nonfinite_guard import NonFiniteLossError
from .runtime import load_config, select_device
from .signals import TrainingInterrupted
from .training import train

__all__ = ['parse_args', 'main']


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
    parser.add_argument('--vdl_log_dir', default='vdl_log_dir/scalar',
                        help='VisualDL log folder (with --use_vdl)')
    parser.add_argument('--seed', type=int, default=None,
                        help='random seed: initialisation, augmentation and '
                        'data order')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    extra = {'use_vdl': args.use_vdl, 'vdl_log_dir': args.vdl_log_dir}
    if args.amp:
        extra['amp'] = True
    try:
        cfg = load_config(args.config, args.opt, **extra)
        select_device(cfg)
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
