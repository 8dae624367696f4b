"""Export a trained detector to a Paddle Inference model.

    python tools/export_model.py -c CONFIG -o weights=PATH --output_dir output_inference
"""
from _common import ArgsParser, fail, load_tool_config, trainer_with_weights

from ppdet_ghm.engine import export_model
from ppdet_ghm.utils import ConfigError


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--output_dir', default='output_inference',
                        help='where the inference model is written')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)
    trainer = trainer_with_weights(cfg, 'test')
    try:
        path = export_model(trainer, args.output_dir)
    except ConfigError as err:
        fail(err)
    print('exported {} (run it: python tools/deploy_infer.py --model_dir {} '
          '--image_file IMAGE)'.format(path, path))


if __name__ == '__main__':
    main()
