"""ppdet_ghm.engine.evaluation: an evaluation ends with a metric or an error,
never with neither (ppdet's COCO metric computes nothing when nothing is
detected)."""
import pytest
from tiny_demo import write_tiny_config

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
