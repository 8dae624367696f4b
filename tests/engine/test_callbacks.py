"""ppdet_ghm.engine.callbacks.RankLossLogger: a loss log that cannot be
written ends training with the path and the cause (an OutputError), not an
OSError from inside PaddleDetection's callback loop."""
import builtins
import errno
import os
from types import SimpleNamespace

import paddle
import pytest

from ppdet_ghm.engine import OutputError, RankLossLogger


def logger(tmp_path):
    cfg = {'filename': 'run', 'save_dir': str(tmp_path), 'log_iter': 1}
    trainer = SimpleNamespace(cfg=SimpleNamespace(get=cfg.get, **cfg),
                              model=paddle.nn.Linear(1, 1))
    return RankLossLogger(trainer)


STATUS = {'mode': 'train', 'epoch_id': 0, 'step_id': 0, 'learning_rate': 0.1}


def test_each_step_appends_one_record(tmp_path):
    log = logger(tmp_path)
    log.on_step_end(STATUS)
    log.on_step_end(dict(STATUS, step_id=1))
    with open(log.path) as f:
        assert len(f.read().splitlines()) == 2


def test_a_read_only_or_full_disk_is_an_output_error_naming_the_file(tmp_path,
                                                                     monkeypatch):
    log = logger(tmp_path)

    def refuse(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
    monkeypatch.setattr(builtins, 'open', refuse)
    with pytest.raises(OutputError, match="cannot append to the loss log '{}': "
                       "Read-only file system".format(log.path)):
        log.on_step_end(STATUS)


def test_with_log_image_ids_a_record_names_the_steps_images(tmp_path):
    import json

    class Model(paddle.nn.Linear):
        def forward(self, inputs):
            return {'loss': super().forward(inputs['x']).sum()}
    cfg = {'filename': 'run', 'save_dir': str(tmp_path), 'log_iter': 1,
           'log_image_ids': True}
    model = Model(1, 1)
    log = RankLossLogger(SimpleNamespace(cfg=SimpleNamespace(get=cfg.get, **cfg),
                                         model=model))
    model({'x': paddle.ones([2, 1]), 'im_id': paddle.to_tensor([[7], [3]])})
    log.on_step_end(STATUS)
    with open(log.path) as f:
        record = json.loads(f.readline())
    assert record['im_id'] == [7, 3] and record['loss'] == pytest.approx(
        float(model({'x': paddle.ones([2, 1])})['loss']))
