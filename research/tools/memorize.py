"""The memorization check by hand: train a loss setup on four demo images and
evaluate on the same images (box AP should reach >= 0.9).

    python -m research.tools.memorize --case ghm_c+ghm_r [--lr 3e-4] [--steps 200] \
        [--optimizer adamw|sgd] [--output_dir output/memorize] [--write_only] \
        [-o key=value ...]

Cases and their default lr / steps: research/memorization.py.
Writes the images and DIR/CASE.yml, then runs tools/train.py --eval on it
(-o options go to train.py); --write_only prints the config's path instead of
training (for research/tools/analyze_learning.py).
"""
import argparse
import os
import subprocess
import sys

from research.memorization import (
    CASES, make_memorization_data, write_memorization_config)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--case', required=True, choices=sorted(CASES),
                        help='loss setup')
    parser.add_argument('--lr', type=float, default=None,
                        help="learning rate (default: the case's)")
    parser.add_argument('--steps', type=int, default=None,
                        help="training steps (default: the case's)")
    parser.add_argument('--optimizer', choices=['adamw', 'sgd'], default='adamw',
                        help="the demo's AdamW or the COCO configs' SGD")
    parser.add_argument('--output_dir', default='output/memorize',
                        help='where the images, config and run go')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--write_only', action='store_true',
                        help='write the data and config, print its path, do not train')
    parser.add_argument('-o', '--opt', nargs='*', default=[],
                        help='key=value options for tools/train.py')
    args = parser.parse_args(argv)
    out = os.path.abspath(args.output_dir)
    os.makedirs(out, exist_ok=True)
    data = make_memorization_data(os.path.join(out, 'data'))
    try:
        config = write_memorization_config(
            os.path.join(out, args.case + '.yml'), data, out, args.case,
            lr=args.lr, steps=args.steps, optimizer=args.optimizer)
    except ValueError as err:
        parser.error(str(err))
    if args.write_only:
        print(config)
        return 0
    cmd = [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), '-c', config,
           '--eval', '--seed', str(args.seed)]
    if args.opt:
        cmd += ['-o'] + args.opt
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == '__main__':
    sys.exit(main())
