"""tools/plot_logs.py: curves and the AP table from a run's records, its
flags and one-line errors."""
import json
import os
import sys

import pytest

TOOLS = os.path.join(os.path.dirname(__file__), '..', '..', 'tools')
sys.path.insert(0, TOOLS)
import plot_logs  # noqa: E402

PNG = b'\x89PNG\r\n\x1a\n'


def _bbox(ap, ap50):
    return dict({'AP': ap, 'AP50': ap50}, **{k: 0.0 for k in (
        'AP75', 'AP_small', 'AP_medium', 'AP_large', 'AR1', 'AR10', 'AR100',
        'AR_small', 'AR_medium', 'AR_large')})


def write_run(folder, steps=30, evals=((15, 1.5, 0.1, 0.2), (30, 3.0, 0.25, 0.5))):
    """A run folder as engine.train writes it: rank 0's step losses and
    the evaluation records (iteration, minutes, AP, AP50)."""
    os.makedirs(folder)
    with open(os.path.join(folder, 'loss_rank0.jsonl'), 'w') as f:
        for i in range(steps):
            f.write(json.dumps({'rank': 0, 'epoch': i // 15, 'step': i % 15,
                                'lr': 0.01, 'loss': 3.0 / (i + 1),
                                'loss_cls': 2.0 / (i + 1),
                                'loss_bbox': 1.0 / (i + 1)}) + '\n')
    with open(os.path.join(folder, 'eval_records.jsonl'), 'w') as f:
        for n, (it, minutes, ap, ap50) in enumerate(evals, 1):
            f.write(json.dumps({'epoch': n, 'iteration': it, 'minutes': minutes,
                                'bbox': _bbox(ap, ap50)}) + '\n')
    return str(folder)


def test_cli_writes_both_pngs_and_prints_the_last_evaluations(tmp_path, capsys):
    a = write_run(tmp_path / 'a')
    b = write_run(tmp_path / 'b', evals=((15, 2.0, 0.3, 0.6),))
    out, ap = tmp_path / 'curves.png', tmp_path / 'ap.png'
    plot_logs.main([a, b, '--labels', 'A', 'B', '--output', str(out),
                    '--ap_output', str(ap)])
    data = out.read_bytes()
    assert data[:8] == PNG and len(data) > 10000
    assert ap.read_bytes()[:8] == PNG
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ['wrote ' + str(out), 'wrote ' + str(ap)]
    assert printed[-2:] == ['| A | 2 | 0.250 | 0.500 | 3.0 |',
                            '| B | 1 | 0.300 | 0.600 | 2.0 |']


def test_smoothing_is_a_running_mean_of_the_last_steps():
    from ppdet_ghm.analysis.curves import smoothed
    assert smoothed([1.0, 3.0, 5.0, 7.0], window=2) == [1.0, 2.0, 4.0, 6.0]


def test_a_folder_without_records_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        plot_logs.main([str(tmp_path), '--output', str(tmp_path / 'x.png')])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: '{}': not a training run folder (no loss_rank0.jsonl)\n".format(
        tmp_path)


def test_a_damaged_record_is_named_by_file_and_line(tmp_path, capsys):
    run = write_run(tmp_path / 'a')
    with open(os.path.join(run, 'eval_records.jsonl'), 'a') as f:
        f.write('{"epoch": 3\n{}\n')
    with pytest.raises(SystemExit):
        plot_logs.main([run, '--output', str(tmp_path / 'x.png')])
    assert 'eval_records.jsonl:3: not a JSON record' in capsys.readouterr().err


def test_labels_must_match_the_runs(capsys):
    with pytest.raises(SystemExit) as info:
        plot_logs.main(['a', 'b', '--labels', 'a', '--output', 'x.png'])
    assert info.value.code == 2
    assert '--labels: expected 2 labels (one per run), got 1' in capsys.readouterr().err


def test_ap_output_without_any_evaluation_is_a_clear_error(tmp_path, capsys):
    run = write_run(tmp_path / 'a', evals=())
    with pytest.raises(SystemExit) as info:
        plot_logs.main([run, '--output', str(tmp_path / 'c.png'),
                        '--ap_output', str(tmp_path / 'a.png')])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith('error: --ap_output: no evaluation')


def test_an_output_folder_that_does_not_exist_is_named(tmp_path, capsys):
    run = write_run(tmp_path / 'a')
    with pytest.raises(SystemExit):
        plot_logs.main([run, '--output', str(tmp_path / 'no' / 'c.png')])
    assert "--output: no folder '{}'".format(tmp_path / 'no') in capsys.readouterr().err
