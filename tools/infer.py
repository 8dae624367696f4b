"""Detect objects in images and write them with boxes drawn.

    python tools/infer.py -c CONFIG -o weights=PATH --infer_img demo.jpg
    python tools/infer.py -c CONFIG -o weights=PATH --infer_dir images/ --output_dir out/
"""
import glob
import os

from _common import ArgsParser, fail, load_tool_config, trainer_with_weights


IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--infer_img', default=None, help='one image')
    parser.add_argument('--infer_dir', default=None, help='a directory of images')
    parser.add_argument('--draw_threshold', type=float, default=0.5,
                        help='draw boxes scoring at least this')
    parser.add_argument('--output_dir', default='output',
                        help='where the drawn images go')
    parser.add_argument('--save_results', action='store_true',
                        help='also write the detections as bbox.json')
    return parser.parse_args(argv)


def list_images(infer_img, infer_dir):
    """The images to run on; a clear error when there are none."""
    if infer_img:
        if not os.path.isfile(infer_img):
            fail("--infer_img: no file at '{}'".format(infer_img))
        return [infer_img]
    if not infer_dir:
        fail('give --infer_img FILE or --infer_dir DIR')
    if not os.path.isdir(infer_dir):
        fail("--infer_dir: no directory at '{}'".format(infer_dir))
    images = sorted(p for p in glob.glob(os.path.join(infer_dir, '*'))
                    if p.lower().endswith(IMAGE_EXTS))
    if not images:
        fail("--infer_dir: no {} images in '{}'".format('/'.join(IMAGE_EXTS), infer_dir))
    return images


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)
    images = list_images(args.infer_img, args.infer_dir)
    trainer = trainer_with_weights(cfg, 'test')
    trainer.predict(images, draw_threshold=args.draw_threshold,
                    output_dir=args.output_dir, save_results=args.save_results)


if __name__ == '__main__':
    main()
