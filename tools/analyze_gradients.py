"""Gradient-norm distribution of a trained detector and how GHM reshapes it.

    python tools/analyze_gradients.py -c CONFIG -o weights=PATH \
        [--num_images 100] [--output_dir output/gradient_analysis]

Runs the model over the first N images of the eval set, assigns anchors as in
training and writes to DIR:

* ``gradient_norms.png``: histograms (log counts) of the classification
  gradient norm ``|sigmoid(x) - t|`` over valid (anchor, class) entries and of
  the regression gradient norm ``|d| / sqrt(d^2 + mu^2)`` over positive
  anchors' coordinates (the paper's Fig. 1);
* ``harmonizing.png``: the per-example gradient after reweighting, as a
  function of the gradient norm, for CE / focal loss (gamma 2) / GHM-C, and as
  a function of |d| for SL1 / ASL1 / GHM-R, on this model's density (Fig. 3);
* ``gradient_norms.json``: all counts, bin edges and curves.

The GHM bins, ``mu`` and weights come from the config's GHMCLoss / GHMRLoss
(the head's own losses when it uses them), through their own methods.
The analysis: ppdet_ghm/analysis/gradient_report.py.
"""
import sys

from _common import ArgsParser, fail, load_tool_config, trainer_with_weights

from ppdet_ghm.engine.cli import positive_int
from ppdet_ghm.analysis.gradient_report import (
    format_gradient_summary, gradient_report, write_gradient_report)
from ppdet_ghm.utils import ConfigError
from ppdet_ghm.utils.paths import output_dir


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--num_images', type=positive_int, default=100,
                        help='images of the eval set to analyse (first N)')
    parser.add_argument('--output_dir', default='output/gradient_analysis', type=output_dir,
                        help='where the PNGs and gradient_norms.json go')
    parser.add_argument('--batch_size', type=positive_int, default=2,
                        help='images per forward pass')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)
    trainer = trainer_with_weights(cfg, 'eval')
    try:
        result = gradient_report(trainer, cfg, args.num_images, args.batch_size)
    except ConfigError as err:
        fail(err)
    if result['num_images'] < args.num_images:
        print('note: the eval set has only {} images'.format(result['num_images']),
              file=sys.stderr)
    paths = write_gradient_report(result, args.output_dir)
    print(format_gradient_summary(result))
    for path in paths:
        print('wrote', path)


if __name__ == '__main__':
    main()
