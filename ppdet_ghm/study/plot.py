"""Box AP against wall-clock minutes for every row of a study: the mean over
the seeds at each evaluation, with a band of ± one standard deviation."""
from ..analysis._plotting import pyplot

__all__ = ['plot_study']


def plot_study(summary, path, title=None):
    """Draw ``summary['curves']`` (:func:`~ppdet_ghm.study.results.summarize`)
    into the PNG ``path``; rows without evaluations are left out.  Returns
    ``path``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    labels = {row['key']: row['label'] for row in summary['rows']}
    for key, points in summary['curves'].items():
        if not points:
            continue
        x = [p['minutes'] for p in points]
        y = [p['AP'] for p in points]
        line, = ax.plot(x, y, marker='o', ms=3, label='{} (n={})'.format(
            labels.get(key, key), max(p['n'] for p in points)))
        if any(p['AP_std'] is not None for p in points):
            low = [p['AP'] - (p['AP_std'] or 0.0) for p in points]
            high = [p['AP'] + (p['AP_std'] or 0.0) for p in points]
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.15)
    ax.set_xlabel('wall-clock minutes from the start of training (mean over seeds)')
    ax.set_ylabel('box AP (IoU .50:.95)')
    ax.set_title(title or 'study {}: mean ± std over seeds'.format(
        summary['study']))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
