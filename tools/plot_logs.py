"""Loss curves and COCO box AP (per iteration and per wall-clock minute) from
PaddleDetection training logs.

    python tools/plot_logs.py logs/demo_ghm/train.log logs/demo_fl/train.log \
        --labels "GHM-C + GHM-R" "FL + SL1" --output logs/demo_loss_curves.png \
        [--ap_output logs/demo_ap_minutes.png]

Reads the lines PaddleDetection's trainer prints
(``[mm/dd HH:MM:SS] ... Epoch: [e] [ s/ S] learning_rate: ... loss: ...``)
and the pycocotools summary after each evaluation.  Minutes count from the
log's first time stamp (the dataset load, just before the first step), so
they include the evaluations; ``--ap_output`` draws box AP against them and
prints a table of the last evaluation of each log.
The parsing and plotting: ppdet_ghm/analysis/training_logs.py.
"""
import argparse
import sys

from ppdet_ghm.analysis.training_logs import (
    LogError, ap_table, plot_ap_minutes, plot_loss_curves, read_log)


def fail(message):
    """One line on stderr, exit 2 (as tools/_common.fail; not imported:
    this tool needs neither paddle nor ppdet)."""
    sys.stderr.write('error: {}\n'.format(message))
    sys.exit(2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('logs', nargs='+', help='PaddleDetection log files')
    parser.add_argument('--labels', nargs='+', help='one label per log')
    parser.add_argument('--output', required=True, help='PNG to write')
    parser.add_argument('--title', default=None)
    parser.add_argument('--ap_output', default=None,
                        help='PNG of box AP against wall-clock minutes')
    args = parser.parse_args(argv)
    labels = args.labels or args.logs
    if len(labels) != len(args.logs):
        parser.error('--labels: expected {} labels (one per log), got {}'.format(
            len(args.logs), len(labels)))
    try:
        logs = [read_log(path) for path in args.logs]
    except LogError as err:
        fail(err)
    plot_loss_curves(logs, labels, args.output, args.title)
    print('wrote', args.output)
    if args.ap_output:
        if not any(log['ap'] for log in logs):
            fail('--ap_output: no evaluation (box AP) in {}'.format(
                ', '.join(args.logs)))
        plot_ap_minutes(logs, labels, args.ap_output, args.title)
        print('wrote', args.ap_output)
        print(ap_table(logs, labels))


if __name__ == '__main__':
    main()
