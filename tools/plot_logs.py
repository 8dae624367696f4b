"""Loss curves (and COCO AP per evaluation) from PaddleDetection training logs.

    python tools/plot_logs.py logs/demo_ghm/train.log logs/demo_fl/train.log \
        --labels "GHM-C + GHM-R" "FL + SL1" --output logs/demo_loss_curves.png

Reads the lines PaddleDetection's trainer prints
(``Epoch: [e] [ s/ S] learning_rate: ... loss: ... loss_cls: ... eta: ...``)
and the pycocotools summary after each evaluation.
"""
import argparse
import re
import sys

__all__ = ['parse_log']

_TRAIN = re.compile(
    r'Epoch: \[(?P<epoch>\d+)\]\s*\[\s*(?P<step>\d+)/\s*(?P<steps>\d+)\]\s*'
    r'learning_rate: (?P<lr>[-+.\deE]+)\s*(?P<meters>.*?)\s*eta:')
_METER = re.compile(r'(\w+): ([-+.\deEnaif]+)')
_AP = re.compile(r'Average Precision\s+\(AP\) @\[ IoU=0\.50:0\.95 \| area=\s*all '
                 r'\| maxDets=100 \] = (?P<ap>[-.\d]+)')


def parse_log(lines):
    """Parse a PaddleDetection training log.

    Args:
        lines (iterable[str]): the log's lines.

    Returns:
        dict with ``iters`` (list[int], global iteration of each train line),
        ``lr`` (list[float]), ``losses`` (dict name -> list[float], aligned with
        ``iters``) and ``ap`` (list of (iteration, box AP) after evaluations).
    """
    iters, lrs, losses, aps = [], [], {}, []
    for line in lines:
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
    return {'iters': iters, 'lr': lrs, 'losses': losses, 'ap': aps}


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


if __name__ == '__main__':
    main()
