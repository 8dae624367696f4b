"""ppdet_ghm.analysis.training_logs: PaddleDetection training logs parsed,
tabulated and plotted (tools/plot_logs.py's logic)."""
import pytest

from ppdet_ghm.analysis.training_logs import (LogError, ap_table, parse_log,
                                              plot_ap_minutes, plot_loss_curves,
                                              read_log)

LOG = """\
[11/22 10:00:00] ppdet.engine INFO: Epoch: [0] [ 0/50] learning_rate: 0.000100 loss: 9.500000 (9.500000) loss_cls: 6.500000 (6.500000) loss_bbox: 3.000000 (3.000000) eta: 0:01:00 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
[11/22 10:00:05] ppdet.engine INFO: Epoch: [0] [20/50] learning_rate: 0.002000 loss: 4.000000 (6.000000) loss_cls: 2.500000 (4.000000) loss_bbox: 1.500000 (2.000000) eta: 0:00:50 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
 Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.123
 Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.300
[11/22 10:01:00] ppdet.engine INFO: Epoch: [1] [10/50] learning_rate: 0.010000 loss: 2.000000 (3.000000) loss_cls: 1.000000 (1.500000) loss_bbox: 1.000000 (1.500000) eta: 0:00:20 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
"""
PNG = b'\x89PNG\r\n\x1a\n'


def test_parse_log_reads_iterations_losses_and_ap():
    log = parse_log(LOG.splitlines())
    assert log['iters'] == [0, 20, 60]
    assert log['lr'] == [0.0001, 0.002, 0.01]
    assert log['losses'] == {'loss': [9.5, 4.0, 2.0], 'loss_cls': [6.5, 2.5, 1.0],
                             'loss_bbox': [3.0, 1.5, 1.0]}
    assert log['ap'] == [(20, 0.123)]


def test_ap_minutes_count_from_the_first_time_stamp_and_the_table_shows_the_last_evaluation():
    log = parse_log(LOG.splitlines())
    assert log['ap50'] == [0.3]
    # the AP follows the 10:00:05 line: 5 s after the first stamp
    assert log['ap_minutes'] == [5 / 60.0]
    table = ap_table([log], ['GHM'])
    assert table.splitlines()[-1] == '| GHM | 0.123 | 0.300 | 0.1 |'
    # a log without an evaluation gets a row of dashes
    no_eval = parse_log(LOG.splitlines()[:1])
    assert ap_table([no_eval], ['FL']).splitlines()[-1] == '| FL | - | - | - |'


def test_read_log_of_a_file_without_training_lines_names_it(tmp_path):
    path = tmp_path / 'empty.log'
    path.write_text('nothing here\n')
    with pytest.raises(LogError, match=r'no training lines \("Epoch: \[e\] '
                       r'\[s/S\] \.\.\. loss: \.\.\."\) in .*empty\.log'):
        read_log(str(path))
    path.write_text(LOG)
    assert read_log(str(path)) == parse_log(LOG.splitlines())


def test_plots_are_pngs(tmp_path):
    log = parse_log(LOG.splitlines())
    curves, ap = tmp_path / 'curves.png', tmp_path / 'ap.png'
    plot_loss_curves([log, log], ['a', 'b'], str(curves), title='t')
    data = curves.read_bytes()
    assert data[:8] == PNG and len(data) > 10000
    plot_ap_minutes([log], ['a'], str(ap))
    assert ap.read_bytes()[:8] == PNG
