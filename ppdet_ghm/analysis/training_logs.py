"""Loss curves and COCO box AP (per iteration and per wall-clock minute) from
PaddleDetection training logs (``tools/plot_logs.py``).

Reads the lines PaddleDetection's trainer prints
(``[mm/dd HH:MM:SS] ... Epoch: [e] [ s/ S] learning_rate: ... loss: ...``)
and the pycocotools summary after each evaluation.  Minutes count from the
log's first time stamp (the dataset load, just before the first step), so
they include the evaluations.

A parsed log is the dict :func:`parse_log` returns; the plotting functions
take a list of them with one label each and import matplotlib only when
called.
"""
import datetime
import re

from ._plotting import pyplot

__all__ = ['LogError', 'parse_log', 'read_log', 'ap_table', 'plot_loss_curves',
           'plot_ap_minutes']

_TRAIN = re.compile(
    r'Epoch: \[(?P<epoch>\d+)\]\s*\[\s*(?P<step>\d+)/\s*(?P<steps>\d+)\]\s*'
    r'learning_rate: (?P<lr>[-+.\deE]+)\s*(?P<meters>.*?)\s*eta:')
_METER = re.compile(r'(\w+): ([-+.\deEnaif]+)')
_AP = re.compile(r'Average Precision\s+\(AP\) @\[ IoU=0\.50:0\.95 \| area=\s*all '
                 r'\| maxDets=100 \] = (?P<ap>[-.\d]+)')
_AP50 = re.compile(r'Average Precision\s+\(AP\) @\[ IoU=0\.50\s+\| area=\s*all '
                   r'\| maxDets=100 \] = (?P<ap>[-.\d]+)')
_STAMP = re.compile(r'^\[(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)\]')


class LogError(ValueError):
    """A file that is not a PaddleDetection training log."""


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


def read_log(path):
    """:func:`parse_log` of the file at ``path``; :class:`LogError` naming
    it when it has no training line."""
    with open(path) as f:
        log = parse_log(f)
    if not log['iters']:
        raise LogError('no training lines ("Epoch: [e] [s/S] ... loss: ...") '
                       'in {}'.format(path))
    return log


def ap_table(logs, labels):
    """Markdown rows: label, last box AP, AP .50, minutes at that evaluation
    (``-`` where a log has none)."""
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


def plot_ap_minutes(logs, labels, output, title=None):
    """Box AP against wall-clock minutes, one line per log, as the PNG
    ``output`` (evaluations without a time stamp are left out)."""
    plt = pyplot()
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


def plot_loss_curves(logs, labels, output, title=None):
    """One panel per loss term against the iteration (log scale), plus box
    AP if any log has it, as the PNG ``output``."""
    plt = pyplot()
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
