"""What a model's detections are: hits, duplicates, class confusions,
mislocated boxes and background per score interval, and which class the
detections on each object carry.

    python tools/eval.py -c CONFIG -o weights=W --output_eval DIR
    python -m research.tools.analyze_detections --gt ANNOTATIONS.json --dets DIR/bbox.json \
        [--score_thr 0.4] [--iou_thr 0.5] [--output FILE.md]
"""
import argparse
import os

from ppdet_ghm.engine.cli import fail
from research.detection_errors import summarize


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--gt', required=True, help='COCO instances json')
    parser.add_argument('--dets', required=True, help='COCO results json (bbox.json)')
    parser.add_argument('--score_thr', type=float, default=0.4,
                        help='lowest score in the class-confusion table')
    parser.add_argument('--iou_thr', type=float, default=0.5,
                        help='IoU at which a detection matches an object')
    parser.add_argument('--output', default=None, help='also write the tables here')
    args = parser.parse_args(argv)
    if not 0 < args.iou_thr <= 1:
        fail('--iou_thr: expected a number in (0, 1], got {}'.format(args.iou_thr))
    try:
        text = summarize(args.gt, args.dets, args.score_thr, args.iou_thr)
    except ValueError as err:
        fail(str(err))
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, 'w') as f:
            f.write(text)
        print('wrote', args.output)


if __name__ == '__main__':
    main()
