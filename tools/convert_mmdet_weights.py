"""Convert a published mmdetection GHM RetinaNet checkpoint to a .pdparams.

    python tools/convert_mmdet_weights.py SRC.pth DST.pdparams --config CONFIG
        [-o key=value ...] [-v]

Reads the ``torch.save`` file without PyTorch (zip or legacy format), maps
every tensor of its ``state_dict`` onto the model built from CONFIG (see
``ppdet_ghm/conversion/``), writes DST and checks it strictly against that
model, as ``tools/eval.py`` will.  Fails, listing them, if a model key is
not filled or a checkpoint tensor is not used (other than the skipped ones
it prints).  Then:

    python tools/eval.py -c CONFIG -o weights=DST
"""
from _common import ArgsParser, create_model, fail, load_tool_config

from ppdet_ghm.conversion import convert_checkpoint
from ppdet_ghm.utils import WeightsError
from ppdet_ghm.utils.paths import output_file


def parse_args(argv=None):
    parser = ArgsParser()
    parser.description = __doc__
    parser.add_argument('src', help='mmdetection checkpoint (.pth)')
    parser.add_argument('dst', type=output_file, help='output .pdparams file')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='list every skipped checkpoint tensor')
    return parser.parse_args(argv)  # -c: the config of the model the weights are for


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args, use_gpu=False)  # conversion runs on the CPU
    model = create_model(cfg)
    model.eval()
    try:
        report = convert_checkpoint(args.src, args.dst, model, cfg,
                                    verbose=args.verbose)
    except WeightsError as err:
        fail(err)
    print('\n'.join(report.lines))
    print('wrote {} ({} keys); strict check against the model: ok'.format(
        report.path, report.num_weights))
    print('evaluate: python tools/eval.py -c {} -o weights={}'.format(
        args.config, report.path))


if __name__ == '__main__':
    main()
