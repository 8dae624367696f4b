"""Detect objects in images and write them with boxes drawn.

    python tools/infer.py -c CONFIG -o weights=PATH --infer_img demo.jpg
    python tools/infer.py -c CONFIG -o weights=PATH --infer_dir images/ --output_dir out/
"""
from _common import ArgsParser, fail, load_tool_config, trainer_with_weights

from ppdet_ghm.data import DatasetError
from ppdet_ghm.data.infer_images import list_infer_images
from ppdet_ghm.engine import predict
from ppdet_ghm.engine.cli import unit_interval
from ppdet_ghm.utils.paths import output_dir


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--infer_img', default=None, help='one image')
    parser.add_argument('--infer_dir', default=None, help='a directory of images')
    parser.add_argument('--draw_threshold', type=unit_interval, default=0.5,
                        help='draw boxes scoring at least this')
    parser.add_argument('--output_dir', default='output', type=output_dir,
                        help='where the drawn images go')
    parser.add_argument('--save_results', action='store_true',
                        help='also write the detections as bbox.json')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)
    try:
        images = list_infer_images(args.infer_img, args.infer_dir)
    except DatasetError as err:
        fail(err)
    trainer = trainer_with_weights(cfg, 'test')
    try:
        predict(trainer, images, draw_threshold=args.draw_threshold,
                output_dir=args.output_dir, save_results=args.save_results)
    except DatasetError as err:    # a sample that failed in the data pipeline
        fail(err)


if __name__ == '__main__':
    main()
