"""Why a loss learns fast or slowly: per-level gradients sent to the positives.

    python -m research.tools.analyze_learning -c CONFIG [--steps 100] \
        [--probe_at 0 50 100] [--output FILE.json] [-o key=value ...]

Trains the config's model for --steps iterations exactly as the Trainer does
(optimizer, clipping, lr schedule) and, at each --probe_at step, evaluates
FocalLoss, GHM-C, SmoothL1 and GHM-R (with and without the training EMA,
per level and over all levels, two values of mu) on that batch's head outputs:
mean |dL/dx| per positive entry, the positives' share of |dL/dx|, and the
mean |dL/dd| per positive box coordinate. Prints tables, writes the JSON.
"""
import json
import os

from ppdet_ghm import engine
from ppdet_ghm.data import DatasetError
from ppdet_ghm.engine.cli import ArgsParser, fail
from ppdet_ghm.utils import ConfigError
from research.learning_probe import format_probe, probe_training


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--steps', type=int, default=100,
                        help='training iterations')
    parser.add_argument('--probe_at', type=int, nargs='+', default=None,
                        help='iterations to probe (default: 0, steps/2, steps)')
    parser.add_argument('--output', default=None, help='JSON file to write')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.steps < 0:
        fail('--steps: expected an integer >= 0, got {}'.format(args.steps))
    from ppdet.engine import set_random_seed
    try:
        cfg = engine.load_config(args.config, args.opt)
        engine.select_device(cfg)
        set_random_seed(args.seed)
        engine.check_datasets(cfg, 'TrainDataset')
        trainer = engine.create_trainer(cfg, 'train')
    except (ConfigError, DatasetError) as err:
        fail(err)
    probe_at = args.probe_at or [0, args.steps // 2, args.steps]
    record = probe_training(trainer, args.steps, probe_at)
    print(format_probe(record))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, 'w') as f:
            json.dump({'config': args.config, 'opt': args.opt, 'steps': args.steps,
                       'record': record}, f)
        print('wrote', args.output)


if __name__ == '__main__':
    main()
