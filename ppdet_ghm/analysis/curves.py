"""Loss curves and box AP (per iteration and per wall-clock minute) of
training runs, from their records (:func:`ppdet_ghm.records.read_run`):
``tools/plot_logs.py``.

A run is the dict ``read_run`` returns; the functions take a list of them
with one label each and import matplotlib only when they draw.
"""
from ._plotting import pyplot

__all__ = ['ap_table', 'box_ap', 'plot_ap_minutes', 'plot_loss_curves',
           'smoothed']

SMOOTHING_STEPS = 20      # PaddleDetection's log_iter window


def box_ap(record):
    """An evaluation record's box AP: COCO's AP .50:.95, or VOC's mAP .50."""
    bbox = record['bbox']
    return bbox['AP'] if 'AP' in bbox else bbox['mAP']


def smoothed(values, window=SMOOTHING_STEPS):
    """Running mean over the last ``window`` values (fewer at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def ap_table(runs, labels):
    """Markdown rows: label, epoch, box AP, AP .50 and minutes (training and
    evaluations) at each run's last evaluation (``-`` for a run without
    one)."""
    rows = ['| run | epoch | box AP .50:.95 (VOC: mAP .50) | AP .50 | minutes (training + evals) |',
            '|---|---:|---:|---:|---:|']
    for run, label in zip(runs, labels):
        if not run['evals']:
            rows.append('| {} | - | - | - | - |'.format(label))
            continue
        last = run['evals'][-1]
        ap50 = last['bbox'].get('AP50', last['bbox'].get('mAP'))
        rows.append('| {} | {} | {:.3f} | {:.3f} | {:.1f} |'.format(
            label, last['epoch'], box_ap(last), ap50, last['minutes']))
    return '\n'.join(rows)


def plot_ap_minutes(runs, labels, output, title=None):
    """Box AP against wall-clock minutes since training started, one line
    per run, as the PNG ``output``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for run, label in zip(runs, labels):
        if run['evals']:
            ax.plot([e['minutes'] for e in run['evals']],
                    [box_ap(e) for e in run['evals']], marker='o',
                    label=label)
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


def plot_loss_curves(runs, labels, output, title=None):
    """One panel per loss term against the iteration (rank 0's losses, a
    running mean over :data:`SMOOTHING_STEPS` steps, log scale), plus box AP
    if any run was evaluated, as the PNG ``output``."""
    plt = pyplot()
    names = []
    for run in runs:
        for record in run['losses'][:1]:
            names += [k for k in sorted(record)
                      if k.startswith('loss') and k not in names]
    with_ap = any(run['evals'] for run in runs)
    panels = len(names) + int(with_ap)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4),
                             squeeze=False)
    axes = axes[0]
    for run, label in zip(runs, labels):
        iterations = [r['iteration'] for r in run['losses']]
        for ax, name in zip(axes, names):
            values = [r.get(name) for r in run['losses']]
            if values and None not in values:
                ax.plot(iterations, smoothed(values), label=label, lw=1.2)
        if with_ap and run['evals']:
            axes[-1].plot([e['iteration'] for e in run['evals']],
                          [box_ap(e) for e in run['evals']], marker='o',
                          label=label)
    for ax, name in zip(axes, names):
        ax.set_title('{} (mean of {} steps)'.format(name, SMOOTHING_STEPS),
                     fontsize=10)
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
