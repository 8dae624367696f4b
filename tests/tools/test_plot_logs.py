"""tools/plot_logs.py on a log in PaddleDetection's format."""
import os
import sys

import pytest

TOOLS = os.path.join(os.path.dirname(__file__), '..', '..', 'tools')
sys.path.insert(0, TOOLS)
import plot_logs  # noqa: E402

LOG = """\
[11/22 10:00:00] ppdet.engine INFO: Epoch: [0] [ 0/50] learning_rate: 0.000100 loss: 9.500000 (9.500000) loss_cls: 6.500000 (6.500000) loss_bbox: 3.000000 (3.000000) eta: 0:01:00 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
[11/22 10:00:05] ppdet.engine INFO: Epoch: [0] [20/50] learning_rate: 0.002000 loss: 4.000000 (6.000000) loss_cls: 2.500000 (4.000000) loss_bbox: 1.500000 (2.000000) eta: 0:00:50 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
 Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.123
 Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.300
[11/22 10:01:00] ppdet.engine INFO: Epoch: [1] [10/50] learning_rate: 0.010000 loss: 2.000000 (3.000000) loss_cls: 1.000000 (1.500000) loss_bbox: 1.000000 (1.500000) eta: 0:00:20 batch_cost: 0.5 data_cost: 0.01 ips: 4.0 images/s
"""


def test_parse_log_reads_iterations_losses_and_ap():
    log = plot_logs.parse_log(LOG.splitlines())
    assert log['iters'] == [0, 20, 60]
    assert log['lr'] == [0.0001, 0.002, 0.01]
    assert log['losses'] == {'loss': [9.5, 4.0, 2.0], 'loss_cls': [6.5, 2.5, 1.0],
                             'loss_bbox': [3.0, 1.5, 1.0]}
    assert log['ap'] == [(20, 0.123)]


def test_cli_writes_a_png(tmp_path):
    path = tmp_path / 'train.log'
    path.write_text(LOG)
    out = tmp_path / 'curves.png'
    plot_logs.main([str(path), str(path), '--labels', 'a', 'b', '--output', str(out)])
    data = out.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 10000


def test_a_file_without_training_lines_is_a_clear_error(tmp_path):
    path = tmp_path / 'empty.log'
    path.write_text('nothing here\n')
    with pytest.raises(SystemExit, match='no training lines.*empty.log'):
        plot_logs.main([str(path), '--output', str(tmp_path / 'x.png')])


def test_ap_minutes_count_from_the_first_time_stamp_and_the_table_shows_the_last_evaluation(tmp_path):
    log = plot_logs.parse_log(LOG.splitlines())
    assert log['ap50'] == [0.3]
    # the AP follows the 10:00:05 line: 5 s after the first stamp
    assert log['ap_minutes'] == [5 / 60.0]
    table = plot_logs.ap_table([log], ['GHM'])
    assert table.splitlines()[-1] == '| GHM | 0.123 | 0.300 | 0.1 |'
    path = tmp_path / 'train.log'
    path.write_text(LOG)
    out = tmp_path / 'ap.png'
    plot_logs.main([str(path), '--output', str(tmp_path / 'c.png'), '--ap_output', str(out)])
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_ap_output_without_any_evaluation_is_a_clear_error(tmp_path):
    path = tmp_path / 'noeval.log'
    path.write_text(LOG.splitlines()[0] + '\n')
    with pytest.raises(SystemExit, match='--ap_output: no evaluation.*noeval.log'):
        plot_logs.main([str(path), '--output', str(tmp_path / 'c.png'),
                        '--ap_output', str(tmp_path / 'a.png')])
