"""A study's results from its records: per variant (and noise level) the
final evaluation of every seed, mean ± standard deviation over the seeds,
the difference to the baseline variant and, with noise levels, the drop
from the reference (clean) level.

Differences are paired by seed: a seed fixes the initialisation, the data
order and the noise draw for every variant, so ``AP(variant, s) -
AP(baseline, s)`` removes what the seeds share; its mean and standard
deviation are over the seeds both rows have.  Standard deviations are the
sample ones (``ddof=1``); with one seed there is none.
"""
import json
import math
import os

__all__ = ['summarize', 'results_table', 'write_results', 'mean_std',
           'METRICS']

# the final evaluation's values kept per seed (pycocotools' names)
METRICS = ('AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large', 'AR100')


def mean_std(values):
    """``(mean, sample std)`` of ``values``; std is None for fewer than two
    values, both None for none."""
    values = [float(v) for v in values]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def _stats(values_by_seed):
    mean, std = mean_std(values_by_seed.values())
    return {'values': values_by_seed, 'n': len(values_by_seed), 'mean': mean,
            'std': std}


def _paired(row, other):
    """Per-seed ``row - other`` of box AP over the seeds both have."""
    seeds = sorted(set(row) & set(other))
    return _stats({s: row[s] - other[s] for s in seeds})


def summarize(study, records):
    """The results of ``records`` (the study's ``records.jsonl`` lines).

    Returns:
        dict: ``rows`` (one per variant[@noise], in study order: ``key``,
        ``label``, ``variant``, ``noise``, ``seeds`` {seed: final metrics and
        minutes}, ``failed`` {seed: error}, ``AP`` and the other
        :data:`METRICS` as {values, n, mean, std}, ``minutes``,
        ``delta`` (paired, to the baseline at the same noise level) and
        ``drop`` (paired, from the reference noise level), ``drop_delta``
        (paired: this drop minus the baseline's drop at the same level));
        ``curves``
        {key: [{epoch, n, minutes, AP, AP_std}]}; ``runs`` {total, finished};
        ``machines`` {machine description: finished runs} (where the
        minutes were measured; 'not recorded' for records without one).
    """
    by_key = {}
    for record in records:
        run_key = record['variant'] + ('@' + record['noise']
                                       if record.get('noise') else '')
        by_key.setdefault(run_key, []).append(record)
    levels = list(study.noise) or ['']
    rows, curves, finished = [], {}, 0
    for level in levels:
        for variant in study.variants:
            key = variant + ('@' + level if level else '')
            finals, failed, evals = {}, {}, {}
            for record in by_key.get(key, []):
                seed = record['seed']
                if record.get('status') == 'failed':
                    failed[seed] = record.get('error')
                elif record.get('status') == 'ok':
                    evals.setdefault(record['epoch'], {})[seed] = record
                    if record['epoch'] == study.epochs:
                        finals[seed] = record
            finished += len(finals) + len(failed)
            row = {'key': key, 'label': study.label(key), 'variant': variant,
                   'noise': level, 'failed': failed,
                   'seeds': {s: dict({m: r['bbox'][m] for m in METRICS},
                                     minutes=r['minutes'])
                             for s, r in sorted(finals.items())}}
            for metric in METRICS:
                row[metric] = _stats({s: v[metric]
                                      for s, v in row['seeds'].items()})
            row['minutes'] = _stats({s: v['minutes']
                                     for s, v in row['seeds'].items()})
            rows.append(row)
            curves[key] = []
            for epoch in sorted(evals):
                aps = [r['bbox']['AP'] for r in evals[epoch].values()]
                minutes = [r['minutes'] for r in evals[epoch].values()]
                mean, std = mean_std(aps)
                curves[key].append({'epoch': epoch, 'n': len(aps),
                                    'minutes': mean_std(minutes)[0],
                                    'AP': mean, 'AP_std': std})
    machines = {}
    for row in rows:
        for seed in row['seeds']:
            record = next(r for r in by_key[row['key']] if r['seed'] == seed
                          and r.get('epoch') == study.epochs)
            name = record.get('machine') or 'not recorded'
            machines[name] = machines.get(name, 0) + 1
    index = {row['key']: row for row in rows}
    for row in rows:
        level = row['noise']
        base = study.baseline + ('@' + level if level else '')
        ap = row['AP']['values']
        row['delta'] = None if row['variant'] == study.baseline else dict(
            _paired(ap, index[base]['AP']['values']), to=base)
        ref = row['variant'] + '@' + study.reference_noise
        row['drop'] = None if not study.reference_noise \
            or level == study.reference_noise \
            else dict(_paired(ap, index[ref]['AP']['values']), to=ref)
    for row in rows:
        # does this variant lose more or less than the baseline to the noise
        base = index.get(study.baseline + '@' + (row['noise'] or ''))
        row['drop_delta'] = None if row['drop'] is None or row['variant'] == \
            study.baseline or base is None or base['drop'] is None else dict(
                _paired(row['drop']['values'], base['drop']['values']),
                to=base['key'])
    return {'study': study.name, 'epochs': study.epochs,
            'baseline': study.baseline, 'reference_noise': study.reference_noise,
            'seeds': list(study.seeds), 'rows': rows, 'curves': curves,
            'runs': {'total': len(study.runs()), 'finished': finished},
            'machines': machines}


def _pm(stats, digits=3, signed=False):
    if stats is None or stats['mean'] is None:
        return '—'
    fmt = '{:+.%df}' % digits if signed else '{:.%df}' % digits
    text = fmt.format(stats['mean'])
    if stats['std'] is not None:
        text += ' ± ' + ('{:.%df}' % digits).format(stats['std'])
    return text


def _each(stats, signed=False):
    if stats is None or not stats['values']:
        return '—'
    fmt = '{:+.3f}' if signed else '{:.3f}'
    return ', '.join('s{} {}'.format(s, fmt.format(v))
                     for s, v in sorted(stats['values'].items()))


def results_table(summary):
    """The results as Markdown: the main table and, with noise levels, the
    drops from the reference level."""
    lines = [
        '| variant | seeds | box AP (mean ± std) | box AP per seed | '
        'Δ box AP vs {} (paired) | Δ per seed | AP50 | AP75 | AP S / M / L '
        '| AR100 | minutes |'.format(summary['baseline']),
        '|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|']
    for row in summary['rows']:
        sizes = ' / '.join(
            '—' if row[m]['mean'] is None or row[m]['mean'] < 0
            else '{:.3f}'.format(row[m]['mean'])
            for m in ('AP_small', 'AP_medium', 'AP_large'))
        seeds = str(row['AP']['n']) + (' ({} failed)'.format(
            len(row['failed'])) if row['failed'] else '')
        lines.append('| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |'
                     .format(row['label'], seeds, _pm(row['AP']),
                             _each(row['AP']),
                             'baseline' if row['delta'] is None
                             else _pm(row['delta'], signed=True),
                             '' if row['delta'] is None
                             else _each(row['delta'], signed=True),
                             _pm(row['AP50']), _pm(row['AP75']), sizes,
                             _pm(row['AR100']), _pm(row['minutes'], 1)))
    drops = [row for row in summary['rows'] if row['drop'] is not None]
    if drops:
        lines += ['', '| variant | noise | box AP | drop from {} (paired) | '
                  'drop per seed | drop − {}\'s drop (paired) | per seed |'.format(
                      summary['reference_noise'], summary['baseline']),
                  '|---|---|---:|---:|---|---:|---|']
        for row in drops:
            lines.append('| {} | {} | {} | {} | {} | {} | {} |'.format(
                row['label'].split(' @ ')[0], row['noise'], _pm(row['AP']),
                _pm(row['drop'], signed=True), _each(row['drop'], signed=True),
                '—' if row.get('drop_delta') is None
                else _pm(row['drop_delta'], signed=True),
                '' if row.get('drop_delta') is None
                else _each(row['drop_delta'], signed=True)))
    failures = [(row['key'], s, e) for row in summary['rows']
                for s, e in sorted(row['failed'].items())]
    if failures:
        lines += [''] + ['- failed: {} seed {}: {}'.format(*f)
                         for f in failures]
    return '\n'.join(lines) + '\n'


def write_results(summary, output_dir):
    """Write ``results.md`` (title, progress, table) and ``results.json``
    to ``output_dir``; returns the Markdown path."""
    md = os.path.join(output_dir, 'results.md')
    with open(md, 'w') as f:
        f.write('# Study {}: box AP after {} epochs\n\n{} of {} runs '
                'finished.\n\n'.format(summary['study'], summary['epochs'],
                                       summary['runs']['finished'],
                                       summary['runs']['total']))
        if summary.get('machines'):
            f.write('Machines (finished runs): {}.\n\n'.format('; '.join(
                '{} ({})'.format(name, count) for name, count in
                sorted(summary['machines'].items()))))
        f.write(results_table(summary))
    with open(os.path.join(output_dir, 'results.json'), 'w') as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    return md
