"""Loss curves and COCO box AP (per iteration and per wall-clock minute) of
training runs, from the records the training wrote in each run folder
(``<save_dir>/<config name>/``: ``loss_rank0.jsonl``, ``eval_records.jsonl``).

    python tools/plot_logs.py output/retinanet_ghm_demo output/retinanet_fl_sl1_demo \
        --labels "GHM-C + GHM-R" "FL + SL1" --output output/demo/loss_curves.png \
        [--ap_output output/demo/ap_minutes.png]

Minutes count from the start of training and include the evaluations.
Prints a table of each run's last evaluation.  The reading and plotting:
ppdet_ghm/records.py and ppdet_ghm/analysis/curves.py.
"""
import os
import sys

from ppdet_ghm.engine.cli import ToolParser
from ppdet_ghm.records import RecordsError, read_run
from ppdet_ghm.utils.paths import output_file


def fail(message):
    """One line on stderr, exit 2 (as ppdet_ghm.engine.cli.fail; not
    imported: this tool needs neither paddle nor ppdet)."""
    sys.stderr.write('error: {}\n'.format(message))
    sys.exit(2)


def main(argv=None):
    parser = ToolParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', help='run folders (<save_dir>/<config name>)')
    parser.add_argument('--labels', nargs='+', help='one label per run (default: the folders)')
    parser.add_argument('--output', required=True, type=output_file, help='PNG of the loss curves to write')
    parser.add_argument('--title', default=None, help='title of both figures')
    parser.add_argument('--ap_output', default=None, type=output_file,
                        help='also a PNG of box AP against wall-clock minutes')
    args = parser.parse_args(argv)
    labels = args.labels or args.runs
    if len(labels) != len(args.runs):
        parser.error('--labels: expected {} labels (one per run), got {}'.format(
            len(args.runs), len(labels)))
    try:
        runs = [read_run(path) for path in args.runs]
    except RecordsError as err:
        fail(err)
    for flag, path in (('--output', args.output), ('--ap_output', args.ap_output)):
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder and not os.path.isdir(folder):
            fail("{}: no folder '{}'".format(flag, folder))
    from ppdet_ghm.analysis.curves import (ap_table, plot_ap_minutes,
                                           plot_loss_curves)
    plot_loss_curves(runs, labels, args.output, args.title)
    print('wrote', args.output)
    if args.ap_output:
        if not any(run['evals'] for run in runs):
            fail('--ap_output: no evaluation records in {}'.format(
                ', '.join(args.runs)))
        plot_ap_minutes(runs, labels, args.ap_output, args.title)
        print('wrote', args.ap_output)
    print(ap_table(runs, labels))


if __name__ == '__main__':
    main()
