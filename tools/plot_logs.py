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
"""
import argparse
import datetime
import re
import sys

__all__ = ['parse_log']

_TRAIN = re.compile(
    r'Epoch: \[(?P<epoch>\d+)\]\s*\[\s*(?P<step>\d+)/\s*(?P<steps>\d+)\]\s*'
    r'learning_rate: (?P<lr>[-+.\deE]+)\s*(?P<meters>.*?)\s*eta:')
_METER = re.compile(r'(\w+): ([-+.\deEnaif]+)')
_AP = re.compile(r'Average Precision\s+\(AP\) @\[ IoU=0\.50:0\.95 \| area=\s*all '
                 r'\| maxDets=100 \] = (?P<ap>[-.\d]+)')
_AP50 = re.compile(r'Average Precision\s+\(AP\) @\[ IoU=0\.50\s+\| area=\s*all '
                   r'\| maxDets=100 \] = (?P<ap>[-.\d]+)')
_STAMP = re.compile(r'^\[(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)\]')


def _seconds(match):
    """Seconds since the start of a (leap) year: the stamps carry no year,
    so a run across New Year is the one case this misreads."""
    month, day, hour, minute, second = (int(v) for v in match.groups())
    return (datetime.datetime(2000, month, day, hour, minute, second)
            - datetime.datetime(2000, 1, 1)).total_seconds()


def parse_log(lines):
    """Parse a PaddleDetection training log.

    Args:
        lines (iterable[str]): the log's lines.

    Returns:
        dict with ``iters`` (list[int], global iteration of each train line),
        ``lr`` (list[float]), ``losses`` (dict name -> list[float], aligned with
        ``iters``), ``ap`` (list of (iteration, box AP) after evaluations),
        ``ap50`` (list of AP .50, aligned with ``ap``) and ``ap_minutes``
        (list of minutes since the first time stamp at each evaluation, or
        None without time stamps).
    """
    iters, lrs, losses, aps, ap50s, minutes = [], [], {}, [], [], []
    first = last = None
    for line in lines:
        stamp = _STAMP.search(line)
        if stamp:
            last = _seconds(stamp)
            first = last if first is None else first
        match = _TRAIN.search(line)
        if match:
            it = int(match['epoch']) * int(match['steps']) + int(match['step'])
            iters.append(it)
            lrs.append(float(match['lr']))
            for name, value in _METER.findall(match['meters']):
                losses.setdefault(name, []).append(float(value))
            continue
        match = _AP.search(line)
        if match:
            aps.append((iters[-1] if iters else 0, float(match['ap'])))
            minutes.append(None if last is None else (last - first) / 60.0)
            continue
        match = _AP50.search(line)
        if match:
            ap50s.append(float(match['ap']))
    return {'iters': iters, 'lr': lrs, 'losses': losses, 'ap': aps,
            'ap50': ap50s, 'ap_minutes': minutes}


def plot_ap_minutes(logs, labels, output, title=None):
    """Box AP against wall-clock minutes, one line per log."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for log, label in zip(logs, labels):
        points = [(m, ap) for m, (_, ap) in zip(log['ap_minutes'], log['ap'])
                  if m is not None]
        if points:
            ax.plot(*zip(*points), marker='o', label=label)
    ax.set_xlabel('wall-clock minutes since training started')
    ax.set_ylabel('box AP (IoU .50:.95)')
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def ap_table(logs, labels):
    """Markdown rows: label, last box AP, AP .50, minutes at that evaluation."""
    rows = ['| run | box AP .50:.95 | AP .50 | minutes (training + evals) |',
            '|---|---:|---:|---:|']
    for log, label in zip(logs, labels):
        if not log['ap']:
            rows.append('| {} | - | - | - |'.format(label))
            continue
        minutes = log['ap_minutes'][-1]
        rows.append('| {} | {:.3f} | {} | {} |'.format(
            label, log['ap'][-1][1],
            '{:.3f}'.format(log['ap50'][-1]) if log['ap50'] else '-',
            '-' if minutes is None else '{:.1f}'.format(minutes)))
    return '\n'.join(rows)


def plot(logs, labels, output, title=None):
    """Draw one panel per loss term (plus box AP if any log has it)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = []
    for log in logs:
        names += [n for n in log['losses'] if n not in names]
    with_ap = any(log['ap'] for log in logs)
    panels = len(names) + int(with_ap)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4),
                             squeeze=False)
    axes = axes[0]
    for log, label in zip(logs, labels):
        for ax, name in zip(axes, names):
            if name in log['losses']:
                ax.plot(log['iters'], log['losses'][name], label=label, lw=1.2)
        if with_ap and log['ap']:
            its, ap = zip(*log['ap'])
            axes[-1].plot(its, ap, marker='o', label=label)
    for ax, name in zip(axes, names):
        ax.set_title(name)
        ax.set_xlabel('iteration')
        ax.set_yscale('log')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if with_ap:
        axes[-1].set_title('box AP (IoU .50:.95)')
        axes[-1].set_xlabel('iteration')
        axes[-1].grid(alpha=0.3)
        axes[-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


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
    logs = []
    for path in args.logs:
        with open(path) as f:
            log = parse_log(f)
        if not log['iters']:
            sys.exit('plot_logs: no training lines ("Epoch: [e] [s/S] ... '
                     'loss: ...") in {}'.format(path))
        logs.append(log)
    plot(logs, labels, args.output, args.title)
    print('wrote', args.output)
    if args.ap_output:
        if not any(log['ap'] for log in logs):
            sys.exit('plot_logs: --ap_output: no evaluation (box AP) in {}'
                     .format(', '.join(args.logs)))
        plot_ap_minutes(logs, labels, args.ap_output, args.title)
        print('wrote', args.ap_output)
        print(ap_table(logs, labels))


if __name__ == '__main__':
    main()
