"""What the side-by-side benchmark reports: the machine, per-variant medians
and peaks with their ratios to the baseline, the targets (docs/benchmarks.md), the
section-by-section breakdown, and the files ``benchmark.txt`` /
``benchmark.json``."""
import json
import os
import platform

import numpy as np

from bench_jobs import ProfileJob
from bench_variants import BASELINE, VARIANTS

# What is compared with the baseline: (description, row key, ratio key, mode,
# field of that mode's result, unit, higher is better).  Every ratio is
# value / baseline value.
MEASURES = [
    ('training step', 'train_step_s', 'train_ratio', 'train', 'median', 's',
     False),
    ('inference throughput', 'infer_images_per_s', 'infer_ratio', 'infer',
     'images_per_s', 'img/s', True),
    ('peak RSS (training)', 'train_peak_rss_mb', 'train_rss_ratio', 'train',
     'peak_rss_mb', 'MB', False),
    ('peak RSS (inference)', 'infer_peak_rss_mb', 'infer_rss_ratio', 'infer',
     'peak_rss_mb', 'MB', False),
    ('peak tensor memory (training)', 'train_allocator_mb',
     'train_allocator_ratio', 'train', 'allocator_peak_mb', 'MB', False),
    ('peak tensor memory (inference)', 'infer_allocator_mb',
     'infer_allocator_ratio', 'infer', 'allocator_peak_mb', 'MB', False),
]


def machine_info(device):
    """CPU model, cores, versions, threads."""
    import paddle
    import ppdet
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = {'cpu': cpu, 'cores': os.cpu_count(),
            'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
            'python': platform.python_version(),
            'paddle': paddle.__version__,
            'paddledet': getattr(ppdet, '__version__', 'unknown'),
            'device': device}
    if device == 'gpu' and paddle.is_compiled_with_cuda():
        info['gpu'] = paddle.device.cuda.get_device_name()
    return info


def header_lines(args, machine):
    """The input line and the machine line that open the report."""
    header = ('input: {n} x 3x{s}x{s} synthetic images (seed {seed}) for '
              'training, {ib} for inference; {w} warm-up + {k} timed training '
              'steps, {iw} + {ik} inference steps{tiny}'.format(
                  n=args.batch_size, s=args.image_size, seed=args.seed,
                  ib=args.infer_batch_size, w=args.warmup, k=args.steps,
                  iw=args.infer_warmup, ik=args.infer_steps,
                  tiny='; --tiny models' if args.tiny else ''))
    machine_line = ('machine: {cpu}, {cores} cores, OMP_NUM_THREADS='
                    '{omp_num_threads}, python {python}, paddle {paddle}, '
                    'paddledet {paddledet}, device {device}'.format(**machine))
    return [header, machine_line]


def batch_digests(results, variants, modes):
    """The one batch digest of each mode; SystemExit if two variants saw
    different batches or the profile did not use the training batch."""
    digests = {}
    for mode in modes:
        seen = {results[v][mode]['batch_digest'] for v in variants}
        if len(seen) != 1:
            raise SystemExit('error: the variants did not see the same {} '
                             'batch'.format(mode))
        digests[mode] = seen.pop()
    if digests.get('profile', digests['train']) != digests['train']:
        raise SystemExit('error: --breakdown did not use the training batch')
    return digests


def ratio(value, base):
    return value / base if base else float('nan')


def paired_ratio(times, base_times):
    """Median over rounds of ``times[i] / base_times[i]``."""
    return float(np.median(np.asarray(times) / np.asarray(base_times)))


def summarize(results, variants):
    """Per variant: medians, peaks and ratios against the baseline."""
    base = results[BASELINE]
    rows = []
    for key, label, config, _ in VARIANTS:
        if key not in variants:
            continue
        ours = results[key]
        row = {'variant': key, 'label': label, 'config': config}
        for _, row_key, ratio_key, mode, field, _, _ in MEASURES:
            row[row_key] = ours[mode][field]
            row[ratio_key] = ratio(ours[mode][field], base[mode][field])
        # per-round time ratios; for throughput, baseline time / ours
        row['train_ratio_paired'] = paired_ratio(ours['train']['times'],
                                                 base['train']['times'])
        row['infer_ratio_paired'] = paired_ratio(base['infer']['times'],
                                                 ours['infer']['times'])
        rows.append(row)
    return rows


def format_table(rows):
    lines = ['| variant | train step s (median) | vs ppdet | inference img/s '
             '| vs ppdet | peak RSS train MB | vs ppdet | peak RSS inference '
             'MB | vs ppdet |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        lines.append(
            '| {label} | {train_step_s:.3f} | {train_ratio:.2f}x | '
            '{infer_images_per_s:.3f} | {infer_ratio:.2f}x | '
            '{train_peak_rss_mb:.0f} | {train_rss_ratio:.2f}x | '
            '{infer_peak_rss_mb:.0f} | {infer_rss_ratio:.2f}x |'.format(**r))
    lines += ['', 'peak tensor memory (Paddle\'s allocator, MB; weights '
              'included, malloc overhead not):', '',
              '| variant | training | vs ppdet | inference | vs ppdet |',
              '|---|---:|---:|---:|---:|']
    for r in rows:
        lines.append(
            '| {label} | {train_allocator_mb:.1f} | {train_allocator_ratio:.2f}x'
            ' | {infer_allocator_mb:.1f} | {infer_allocator_ratio:.2f}x |'
            .format(**r))
    lines.append('')
    lines.append('median of per-round paired ratios (training, inference): ' +
                 '; '.join('{} {:.2f}x, {:.2f}x'.format(
                     r['variant'], r['train_ratio_paired'],
                     r['infer_ratio_paired']) for r in rows))
    return lines


def format_breakdown(results, variants, steps):
    """Table of per-section median seconds of the ``--breakdown`` steps."""
    lines = ['training step by section, median of {} steps (s):'.format(steps),
             '',
             '| section | ' + ' | '.join(variants) + ' |',
             '|---|' + '---:|' * len(variants)]
    medians = {v: results[v]['profile']['section_medians'] for v in variants}
    for name in ProfileJob.SECTIONS:
        lines.append('| {} | {} |'.format(name, ' | '.join(
            '{:.3f}'.format(medians[v][name]) for v in variants)))
    lines.append('| sum of the step\'s sections | {} |'.format(' | '.join(
        '{:.3f}'.format(results[v]['profile']['median']) for v in variants)))
    return lines


def targets(rows):
    """The benchmark's targets (docs/benchmarks.md: no slower and no larger
    than PaddleDetection's RetinaNet), for our GHM detector (``ghm``) and,
    as a diagnostic, for it on PaddleDetection's FPN (``ghm_p5``).

    Returns:
        list of dicts: target, variant, value, baseline, unit, ratio, met.
    """
    base = next(r for r in rows if r['variant'] == BASELINE)
    checks = []
    for row in rows:
        if row['variant'] not in ('ghm', 'ghm_p5'):
            continue
        name = 'GHM' if row['variant'] == 'ghm' else \
            "GHM on PaddleDetection's FPN"
        for what, key, ratio_key, _, _, unit, higher in MEASURES:
            value, baseline = row[key], base[key]
            checks.append({
                'target': '{} {} {} ppdet'.format(
                    name, what, '>=' if higher else '<='),
                'variant': row['variant'], 'value': value,
                'baseline': baseline, 'unit': unit, 'ratio': row[ratio_key],
                'met': bool(value >= baseline if higher else
                            value <= baseline)})
    return checks


def format_targets(checks):
    """One line per target: values, ratio, met or not."""
    return ['{target}: {value:.4g} vs {baseline:.4g} {unit} ({ratio:.3f}x) '
            '-> {verdict}'.format(verdict='met' if c['met'] else 'NOT met',
                                  **c) for c in checks]


def write_outputs(output_dir, text, record):
    """``<output_dir>/benchmark.txt`` (the tables) and ``benchmark.json``
    (``record``: all timings, machine, arguments)."""
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, 'benchmark.txt'), 'w') as f:
        f.write(text + '\n')
    with open(os.path.join(output_dir, 'benchmark.json'), 'w') as f:
        json.dump(record, f, indent=1)
