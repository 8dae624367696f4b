"""ppdet_ghm.engine.evaluation: an evaluation ends with a metric or an error,
never with neither (ppdet's COCO metric computes nothing when nothing is
detected)."""
import pytest
from tiny_demo import write_tiny_config

from ppdet_ghm.data import DataPipelineError
from ppdet_ghm.engine import (EvaluationError, create_trainer, evaluate,
                              load_config)


def eval_trainer(tmp_path, data, score_threshold):
    path = write_tiny_config(tmp_path / 'run.yml', data, tmp_path / 'out', extra=(
        'GHMRetinaPostProcess: {{score_threshold: {}}}\n'
        'EvalReader: {{batch_size: 2}}\n'
        'output_eval: {}\n'.format(score_threshold, tmp_path / 'eval')))
    return create_trainer(load_config(path), 'eval')   # random init weights


def test_a_metric_comes_out(tmp_path, tiny_data):
    results = evaluate(eval_trainer(tmp_path, tiny_data, 0.0))
    assert len(results[0]['bbox']) == 12              # the 12 COCO numbers
    assert (tmp_path / 'eval' / 'bbox.json').is_file()


def test_nothing_detected_is_an_error_naming_the_images_and_threshold(tmp_path,
                                                                      tiny_data):
    with pytest.raises(EvaluationError, match=r"run\.yml: evaluation ended without "
                       r"a metric: the model detected nothing on the 4 evaluation "
                       r"image\(s\) above score_threshold 1\.0"):
        evaluate(eval_trainer(tmp_path, tiny_data, 1.0))


def test_an_image_failing_in_the_pipeline_is_raised_not_waited_for(
        tmp_path, tiny_data, monkeypatch):
    # the trainer (and its loader's first iterator) is made outside the
    # block evaluate() patches Paddle's loader in; Paddle's loader is as
    # before afterwards
    from paddle.io.dataloader import dataloader_iter
    from ppdet.data.source.dataset import DetDataset
    trainer = eval_trainer(tmp_path, tiny_data, 0.0)
    cls = dataloader_iter._DataLoaderIterSingleProcess
    original = cls._thread_loop, cls.__next__
    get_item = DetDataset.__getitem__

    def broken(self, index):
        if index == 2:
            raise OSError('disk gone')
        return get_item(self, index)
    monkeypatch.setattr(DetDataset, '__getitem__', broken)
    with pytest.raises(DataPipelineError, match=r"failed in the data pipeline: "
                       r"OSError: disk gone"):
        evaluate(trainer)
    assert (cls._thread_loop, cls.__next__) == original
