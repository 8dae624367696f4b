"""tools/plot_logs.py: its flags and one-line errors (the parsing and
plotting are tested in tests/analysis/test_training_logs.py)."""
import os
import sys

import pytest

TOOLS = os.path.join(os.path.dirname(__file__), '..', '..', 'tools')
sys.path.insert(0, TOOLS)
import plot_logs  # noqa: E402

LOG = """\
[11/22 10:00:05] ppdet.engine INFO: Epoch: [0] [20/50] learning_rate: 0.002000 loss: 4.000000 (6.000000) loss_cls: 2.500000 (4.000000) loss_bbox: 1.500000 (2.000000) eta: 0:00:50 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
 Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.123
 Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.300
[11/22 10:01:00] ppdet.engine INFO: Epoch: [1] [10/50] learning_rate: 0.010000 loss: 2.000000 (3.000000) loss_cls: 1.000000 (1.500000) loss_bbox: 1.000000 (1.500000) eta: 0:00:20 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
"""
PNG = b'\x89PNG\r\n\x1a\n'


def test_cli_writes_both_pngs_and_prints_the_ap_table(tmp_path, capsys):
    path = tmp_path / 'train.log'
    path.write_text(LOG)
    out, ap = tmp_path / 'curves.png', tmp_path / 'ap.png'
    plot_logs.main([str(path), str(path), '--labels', 'a', 'b', '--output', str(out),
                    '--ap_output', str(ap)])
    data = out.read_bytes()
    assert data[:8] == PNG and len(data) > 10000
    assert ap.read_bytes()[:8] == PNG
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ['wrote ' + str(out), 'wrote ' + str(ap)]
    assert printed[-2:] == ['| a | 0.123 | 0.300 | 0.0 |', '| b | 0.123 | 0.300 | 0.0 |']


def test_a_file_without_training_lines_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / 'empty.log'
    path.write_text('nothing here\n')
    with pytest.raises(SystemExit) as info:
        plot_logs.main([str(path), '--output', str(tmp_path / 'x.png')])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: no training lines') and 'empty.log' in err


def test_labels_must_match_the_logs(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        plot_logs.main(['a.log', 'b.log', '--labels', 'a', '--output', 'x.png'])
    assert info.value.code == 2
    assert '--labels: expected 2 labels (one per log), got 1' in capsys.readouterr().err


def test_ap_output_without_any_evaluation_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / 'noeval.log'
    path.write_text(LOG.splitlines()[0] + '\n')
    with pytest.raises(SystemExit) as info:
        plot_logs.main([str(path), '--output', str(tmp_path / 'c.png'),
                        '--ap_output', str(tmp_path / 'a.png')])
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith('error: --ap_output: no evaluation')
