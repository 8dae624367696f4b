"""Evaluate a trained detector (COCO box AP with PaddleDetection's metric).

    python tools/eval.py -c CONFIG -o weights=PATH [--classwise]
    python tools/eval.py -c CONFIG --json_eval --output_eval DIR   # score an existing bbox.json
"""
import os

from _common import ArgsParser, fail, load_tool_config, trainer_with_weights

from ppdet.engine import init_parallel_env
from ppdet.metrics.coco_utils import json_eval_results

from ppdet_ghm.data import DatasetError
from ppdet_ghm.engine import EvaluationError, evaluate
from ppdet_ghm.utils.paths import OutputError, prepare_output_dir


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--classwise', action='store_true',
                        help='print AP per class')
    parser.add_argument('--output_eval', default=None,
                        help='directory for bbox.json (and where --json_eval reads it)')
    parser.add_argument('--json_eval', action='store_true',
                        help='evaluate bbox.json already in --output_eval')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    extra = {'classwise': args.classwise}
    if args.output_eval:
        extra['output_eval'] = args.output_eval
    cfg = load_tool_config(args, **extra)
    if args.json_eval:
        directory = args.output_eval or 'output_eval'
        if not os.path.isfile(os.path.join(directory, 'bbox.json')):
            fail("--json_eval: no bbox.json in '{}'".format(directory))
        json_eval_results(cfg.metric, json_directory=directory,
                          dataset=cfg['EvalDataset'])
        return
    try:    # bbox.json is written at the end: refuse a bad folder first
        prepare_output_dir(cfg.get('output_eval') or '.', what='--output_eval'
                           if args.output_eval else 'output_eval (bbox.json)')
    except OutputError as err:
        fail(err)
    init_parallel_env()
    trainer = trainer_with_weights(cfg, 'eval')
    try:
        evaluate(trainer)
    except (EvaluationError, DatasetError) as err:
        fail(err)


if __name__ == '__main__':
    main()
