"""Draw a trained detector's detections on eval images, as one PNG grid.

    python tools/draw_detections.py -c CONFIG -o weights=PATH \
        [--num_images 8] [--draw_threshold 0.3] [--output output/detections.png]

Each tile is a val image with its boxes, class names and scores (and the
ground truth as thin white boxes). The drawing: ppdet_ghm/analysis/drawing.py.
"""
from _common import ArgsParser, fail, load_tool_config, trainer_with_weights

from ppdet_ghm.analysis.drawing import draw_detections, eval_images
from ppdet_ghm.engine.cli import positive_int, unit_interval
from ppdet_ghm.utils.paths import output_file


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--num_images', type=positive_int, default=8,
                        help='first N images of the eval set')
    parser.add_argument('--draw_threshold', type=unit_interval, default=0.3,
                        help='draw detections scoring at least this')
    parser.add_argument('--scale', type=positive_int, default=3,
                        help='upscale small images by this factor for legibility')
    parser.add_argument('--output', default='output/detections.png', type=output_file,
                        help='the PNG to write')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)
    paths, truth, _, categories = eval_images(cfg, args.num_images)
    if not paths:
        fail('the eval set has no images')
    trainer = trainer_with_weights(cfg, 'test')
    draw_detections(trainer, paths, truth, categories, args.draw_threshold,
                    args.scale, args.output)
    print('detections drawn on {} val images: {}'.format(len(paths), args.output))


if __name__ == '__main__':
    main()
