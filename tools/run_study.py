"""Run a study: every variant x noise level x seed of a study file trained
with two processes, evaluated, recorded; continue a stopped study where it
left off; write the results table and the AP-against-minutes plot.

    python tools/run_study.py configs/studies/paper_ablations.yml \
        [--output_dir output/studies/paper_ablations] [--reuse DIR ...]
    python tools/run_study.py STUDY.yml --report   # table from the records only

Study files and results: docs/studies.md.
"""
import os
import signal
import sys

import _common  # noqa: F401  (a one-line error when the project is not installed)

from ppdet_ghm.engine.cli import ToolParser, fail, positive_int
from ppdet_ghm.study import (StudyError, load_study, plot_study, read_records,
                             run_study, summarize, write_results)
from ppdet_ghm.utils.paths import output_dir


def main(argv=None):
    parser = ToolParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('study', help='the study file (YAML)')
    parser.add_argument('--output_dir', default=None, type=output_dir,
                        help='default: output/studies/<study name>')
    parser.add_argument('--reuse', nargs='*', default=[],
                        help="other studies' folders: their finished runs "
                        'with the same settings are copied, not trained')
    parser.add_argument('--max_runs', type=positive_int, default=None,
                        help='train at most this many runs, then stop')
    parser.add_argument('--report', action='store_true',
                        help='only write the table and plot from the records')
    args = parser.parse_args(argv)
    # SIGTERM ends the study like Ctrl-C: the training under way is stopped
    # too (it runs in its own process group)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        study = load_study(args.study)
        out = args.output_dir or os.path.join('output', 'studies', study.name)
        if args.report:
            summary = summarize(study, read_records(
                os.path.join(out, 'records.jsonl')))
            write_results(summary, out)
            plot_study(summary, os.path.join(out, 'ap_minutes.png'))
        else:
            summary = run_study(study, out, reuse=args.reuse,
                                max_runs=args.max_runs)
    except StudyError as err:
        fail(err)
    print('{} of {} runs finished; results: {}'.format(
        summary['runs']['finished'], summary['runs']['total'],
        os.path.join(out, 'results.md')))


if __name__ == '__main__':
    sys.exit(main())
