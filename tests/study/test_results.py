"""The results table's arithmetic (ppdet_ghm.study.results) against
hand-made records."""
import math

import pytest

from ppdet_ghm.study import mean_std, parse_study, results_table, summarize
from ppdet_ghm.study.results import METRICS
from tiny_demo import DEMO_CONFIG


@pytest.fixture
def study(tmp_path):
    return parse_study({
        'base_config': DEMO_CONFIG, 'dataset': {'dataset_dir': str(tmp_path)},
        'schedule': {'epochs': 2, 'snapshot_epoch': 1}, 'seeds': [0, 1, 2],
        'variants': {'fl': {'label': 'FL'}, 'ghm': {'label': 'GHM'}},
        'baseline': 'fl',
        'noise': {'clean': {}, 'wrong': {'wrong_class': 0.4}}})


def _record(variant, noise, seed, epoch, ap, minutes):
    bbox = {m: ap / 2 for m in METRICS if m != 'AP'}
    bbox.update(AP=ap, AR1=0.0, AR10=0.0, AR_small=0.0, AR_medium=0.0,
                AR_large=0.0, AP_large=-1.0)
    return {'study': 's', 'run': '{}@{}/seed{}'.format(variant, noise, seed),
            'variant': variant, 'noise': noise, 'seed': seed, 'status': 'ok',
            'epoch': epoch, 'minutes': minutes, 'bbox': bbox}


# final box AP by (variant, noise) and seed
FINAL = {('fl', 'clean'): [0.50, 0.52, 0.54], ('ghm', 'clean'): [0.45, 0.49, 0.50],
         ('fl', 'wrong'): [0.40, 0.41, 0.45], ('ghm', 'wrong'): [0.44, 0.47, 0.47]}


@pytest.fixture
def records():
    out = []
    for (variant, noise), aps in FINAL.items():
        for seed, ap in enumerate(aps):
            out.append(_record(variant, noise, seed, 1, ap / 2, 1.0 + seed))
            out.append(_record(variant, noise, seed, 2, ap, 2.0 + seed))
    return out


def test_mean_std_is_the_sample_standard_deviation():
    assert mean_std([1.0, 2.0, 3.0, 6.0]) == (3.0, math.sqrt(14 / 3))
    assert mean_std([0.5]) == (0.5, None) and mean_std([]) == (None, None)


def test_rows_hold_every_seed_and_their_mean_and_std(study, records):
    rows = {r['key']: r for r in summarize(study, records)['rows']}
    assert list(rows) == ['fl@clean', 'ghm@clean', 'fl@wrong', 'ghm@wrong']
    ghm = rows['ghm@clean']
    assert ghm['AP']['values'] == {0: 0.45, 1: 0.49, 2: 0.50}
    assert ghm['AP']['mean'] == pytest.approx(1.44 / 3)
    assert ghm['AP']['std'] == pytest.approx(math.sqrt(
        sum((v - 0.48) ** 2 for v in (0.45, 0.49, 0.50)) / 2))
    assert ghm['AP50']['mean'] == pytest.approx(0.24)
    assert ghm['minutes']['mean'] == pytest.approx(3.0)


def test_differences_are_paired_by_seed_within_a_noise_level(study, records):
    rows = {r['key']: r for r in summarize(study, records)['rows']}
    delta = rows['ghm@wrong']['delta']
    assert delta['to'] == 'fl@wrong'
    assert delta['values'] == pytest.approx({0: 0.04, 1: 0.06, 2: 0.02})
    assert delta['mean'] == pytest.approx(0.04)
    assert delta['std'] == pytest.approx(0.02)
    assert rows['fl@clean']['delta'] is None


def test_drops_are_paired_from_the_reference_level(study, records):
    rows = {r['key']: r for r in summarize(study, records)['rows']}
    drop = rows['fl@wrong']['drop']
    assert drop['to'] == 'fl@clean'
    assert drop['values'] == pytest.approx({0: -0.10, 1: -0.11, 2: -0.09})
    assert drop['mean'] == pytest.approx(-0.10)
    assert rows['ghm@wrong']['drop']['mean'] == pytest.approx(-0.02)
    assert rows['ghm@clean']['drop'] is None
    # GHM's drop minus FocalLoss' drop, seed by seed
    versus = rows['ghm@wrong']['drop_delta']
    assert versus['to'] == 'fl@wrong' and versus['mean'] == pytest.approx(0.08)
    assert rows['fl@wrong']['drop_delta'] is None


def test_curves_average_each_evaluation_over_seeds(study, records):
    curve = summarize(study, records)['curves']['fl@clean']
    assert [p['epoch'] for p in curve] == [1, 2]
    assert curve[0]['AP'] == pytest.approx(0.26) and curve[0]['n'] == 3
    assert curve[1]['minutes'] == pytest.approx(3.0)


def test_unfinished_and_failed_runs(study, records):
    # seed 2 of ghm@clean stopped after epoch 1; seed 1 failed
    kept = [r for r in records if not (r['run'] in ('ghm@clean/seed2', 'ghm@clean/seed1')
                                       and r['epoch'] == 2)]
    kept.append({'run': 'ghm@clean/seed1', 'variant': 'ghm', 'noise': 'clean',
                 'seed': 1, 'status': 'failed', 'epoch': 1,
                 'error': 'error: non-finite loss'})
    summary = summarize(study, kept)
    row = {r['key']: r for r in summary['rows']}['ghm@clean']
    assert row['AP']['values'] == {0: 0.45} and row['AP']['std'] is None
    assert row['failed'] == {1: 'error: non-finite loss'}
    assert row['delta']['values'] == pytest.approx({0: -0.05})
    assert summary['runs'] == {'total': 12, 'finished': 11}
    table = results_table(summary)
    assert '| GHM @ clean | 1 (1 failed) | 0.450 | s0 0.450 |' in table
    assert '- failed: ghm@clean seed 1: error: non-finite loss' in table


def test_the_table_shows_the_numbers(study, records):
    table = results_table(summarize(study, records))
    assert ('| GHM @ wrong | 3 | 0.460 ± 0.017 | s0 0.440, s1 0.470, s2 0.470 '
            '| +0.040 ± 0.020 | s0 +0.040, s1 +0.060, s2 +0.020 |') in table
    # AP_large -1 (no large objects) shows as a dash
    assert '| 0.230 / 0.230 / — |' in table
    assert '| FL | wrong | 0.420 ± 0.026 | -0.100 ± 0.010 | s0 -0.100, s1 -0.110, s2 -0.090 |' in table


def test_machines_are_counted_per_finished_run(study, records, tmp_path):
    from ppdet_ghm.study import write_results
    for record in records:
        if record['seed'] == 2:
            record['machine'] = 'CPU X, 2 CPUs, paddlepaddle 3.3.1'
    summary = summarize(study, records)
    # 4 rows x 3 seeds; seed 2's record names its machine, the others none
    assert summary['machines'] == {'CPU X, 2 CPUs, paddlepaddle 3.3.1': 4,
                                   'not recorded': 8}
    text = open(write_results(summary, str(tmp_path))).read()
    assert ('Machines (finished runs): CPU X, 2 CPUs, paddlepaddle 3.3.1 (4); '
            'not recorded (8).') in text


def test_machine_description_names_cpu_count_and_paddle():
    import os

    from ppdet_ghm.study.runner import machine_description
    text = machine_description()
    assert ', {} CPUs, paddlepaddle'.format(os.cpu_count()) in text
