"""ppdet_ghm.compat: every non-public Paddle/PaddleDetection API the project
uses, each checked against the installed libraries.  A failure here names
the shim an upgrade broke."""
import numpy as np
import paddle
import pytest

from ppdet_ghm import compat


def test_installed_versions_are_the_verified_ones():
    assert compat.installed_versions() == compat.VERIFIED
    assert compat.version_warnings(compat.installed_versions()) == []


def test_other_versions_get_one_clear_warning_each():
    messages = compat.version_warnings({'paddlepaddle': '3.0.0',
                                        'paddledet': None})
    assert len(messages) == 2
    assert messages[0].startswith('paddlepaddle 3.0.0 is installed; '
                                  'ppdet_ghm was verified with paddlepaddle 3.3.1')
    assert messages[1].startswith('paddledet (unknown) is installed')
    assert all('ppdet_ghm/compat.py' in m for m in messages)


def test_multiclass_nms_keeps_the_best_of_overlapping_boxes_per_class():
    boxes = paddle.to_tensor([[[0, 0, 10, 10], [1, 1, 10, 10],
                               [20, 20, 30, 30]]], dtype='float32')
    # classes x boxes: class 0 likes boxes 0 and 1 (IoU 0.81), class 1 box 2
    scores = paddle.to_tensor([[[0.9, 0.8, 0.01], [0.02, 0.03, 0.7]]],
                              dtype='float32')
    bbox, keep, bbox_num = compat.multiclass_nms(
        boxes, scores, score_threshold=0.05, nms_threshold=0.5, keep_top_k=100)
    assert bbox_num.numpy().tolist() == [2]
    np.testing.assert_allclose(bbox.numpy(), [[0, 0.9, 0, 0, 10, 10],
                                              [1, 0.7, 20, 20, 30, 30]],
                               rtol=1e-6)
    assert keep.numpy().ravel().tolist() == [0, 2]


def test_host_allocated_peak_grows_with_a_tensor():
    before = compat.host_allocated_peak_mb()
    big = paddle.zeros([64, 1024, 1024], dtype='float32')  # 256 MB
    assert compat.host_allocated_peak_mb() >= before
    assert compat.host_allocated_peak_mb() >= 256 - 1
    del big


def test_wrap_optimizer_methods_wraps_the_instance_only():
    layer = paddle.nn.Linear(2, 1)
    opt = paddle.optimizer.SGD(0.1, parameters=layer.parameters())
    calls = []

    def wrapper(original):
        def wrapped(*a, **k):
            calls.append(original.__name__)
            return original(*a, **k)
        return wrapped
    compat.wrap_optimizer_methods(opt, wrapper)
    layer(paddle.ones([1, 2])).sum().backward()
    opt.step()
    assert calls == ['step']
    other = paddle.optimizer.SGD(0.1, parameters=layer.parameters())
    assert 'wrapped' not in other.step.__qualname__


def test_save_model_is_wrapped_for_the_block_only():
    import inspect

    import ppdet.engine.callbacks as callbacks
    assert 'save_model(' in inspect.getsource(callbacks.Checkpointer)
    original, calls = callbacks.save_model, []

    def wrapper(fn):
        def wrapped(*a, **k):
            calls.append(fn)
            return fn(*a, **k)
        return wrapped
    with compat.ppdet_save_model_wrapped(wrapper) as wrapped:
        assert callbacks.save_model is wrapped is not original
        with compat.ppdet_save_model_wrapped(wrapper):      # nested: once
            assert callbacks.save_model is wrapped
        assert callbacks.save_model is wrapped
    assert callbacks.save_model is original
    with pytest.raises(KeyError):
        with compat.ppdet_save_model_wrapped(wrapper):
            raise KeyError('x')
    assert callbacks.save_model is original


def _train_loader(data_dir):
    """ppdet's TrainReader over the tiny data (decode only, batch 1)."""
    from ppdet.data.reader import TrainReader
    from ppdet.data.source.coco import COCODataSet

    dataset = COCODataSet(dataset_dir=data_dir, image_dir='train',
                          anno_path='annotations/instances_train.json',
                          data_fields=['image', 'gt_bbox', 'gt_class'])
    return TrainReader(sample_transforms=[{'Decode': {}}],
                       batch_size=1, shuffle=True)(dataset, 0)


def test_restart_train_loader_uses_the_loaders_attributes(tiny_data):
    loader = _train_loader(tiny_data)
    before, epochs = loader.loader, []
    sampler = loader._batch_sampler
    set_epoch = sampler.set_epoch
    sampler.set_epoch = lambda e: (epochs.append(e), set_epoch(e))
    assert compat.restart_train_loader(loader, 3) is True
    # (the new iterator's prefetch thread may already have moved the
    # sampler's own epoch on: check the call, not the attribute)
    assert epochs == [3] and loader.loader is not before
    assert compat.restart_train_loader(object(), 3) is False


def test_parse_cli_options_nests_dotted_keys():
    from ppdet.utils.cli import ArgsParser
    opts = compat.parse_cli_options(ArgsParser(), ['epoch=3', 'GHMCLoss.bins=30'])
    assert opts == {'epoch': 3, 'GHMCLoss': {'bins': 30}}


def test_coco17_class_names():
    names = compat.coco17_class_names()
    assert len(names) == 80 and names[0] == 'person'
    assert names[-1] == 'toothbrush'


def test_module_schemas_and_their_modules():
    from ppdet.core.workspace import global_config
    schema = global_config['GHMCLoss']
    assert compat.is_module_schema(schema)
    assert compat.schema_module(schema).__name__ == 'ppdet_ghm.losses.ghm_c_loss'
    assert not compat.is_module_schema({'bins': 30})
    assert compat.schema_module({'bins': 30}) is None


def test_request_ground_truth_makes_an_eval_dataset_load_boxes(tiny_data):
    from ppdet.data.source.coco import COCODataSet

    dataset = COCODataSet(dataset_dir=tiny_data, image_dir='val',
                          anno_path='annotations/instances_val.json',
                          data_fields=['image'])
    compat.request_ground_truth(dataset).parse_dataset()
    assert all('gt_bbox' in r and 'gt_class' in r for r in dataset.roidbs)


def test_check_versions_warns_outside_the_verified_versions(monkeypatch):
    monkeypatch.setattr(compat, 'installed_versions',
                        lambda: {'paddlepaddle': '3.3.1', 'paddledet': '2.7.0'})
    with pytest.warns(UserWarning, match=r'^paddledet 2\.7\.0 is installed'):
        compat.check_versions()


def test_set_cpu_threads_reaches_paddles_runtime_setting():
    # the runtime counterpart of OMP_NUM_THREADS; an upgrade that drops or
    # renames it fails here by name
    from paddle.base import core
    assert callable(core.set_num_threads)
    compat.set_cpu_threads(1)
    compat.set_cpu_threads(2)


def test_a_sample_failing_in_the_reader_thread_raises_in_the_main_thread():
    # Paddle's single-process loader left the main thread waiting for ever
    import paddle

    class Samples(paddle.io.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, index):
            if index == 4:
                raise ValueError('sample 4 is broken')
            return np.full([2], index, dtype='float32')

    from paddle.io.dataloader import dataloader_iter

    from ppdet_ghm.data import DataPipelineError, describe_pipeline_failure
    cls = dataloader_iter._DataLoaderIterSingleProcess
    original = cls._thread_loop, cls.__next__
    loader = paddle.io.DataLoader(Samples(), batch_size=2, num_workers=0)
    batches = []
    with compat.reader_errors_propagated(describe_pipeline_failure):
        with compat.reader_errors_propagated(describe_pipeline_failure):
            pass                                  # nested: patched once
        assert (cls._thread_loop, cls.__next__) != original
        with pytest.raises(DataPipelineError, match=r'reading sample 4 failed '
                           r'in the data pipeline: ValueError: sample 4 is broken'):
            for batch in loader:
                batches.append(batch)
    assert len(batches) <= 2      # the error may overtake prefetched batches
    # restored: Paddle's own class again, for code outside the project's calls
    assert (cls._thread_loop, cls.__next__) == original
    assert '_ppdet_ghm_describe' not in cls.__dict__


def test_ast_to_static_switches_paddles_converter_for_the_block_only():
    from paddle.jit.dy2static.utils import ENV_ENABLE_SOT
    before = ENV_ENABLE_SOT.get()
    with compat.ast_to_static():
        assert ENV_ENABLE_SOT.get() is False
    assert ENV_ENABLE_SOT.get() == before


def test_restart_train_loader_joins_the_old_iterator_before_the_new_one(tiny_data):
    loader = _train_loader(tiny_data)
    old, seen = loader.loader, []
    assert compat.restart_train_loader(
        loader, 5, before_start=lambda: seen.append(
            (old._shutdown, loader.loader is old)))
    assert seen == [(True, True)] and loader.loader is not old


def test_current_metric_results_reads_the_trainers_metrics():
    class Metric:
        def __init__(self, results):
            self.results = results

        def get_results(self):
            return self.results

    class Trainer:
        _metrics = [Metric({'bbox': [0.5] * 12}), Metric(None)]

    assert compat.current_metric_results(Trainer()) == [{'bbox': [0.5] * 12}, {}]
    assert compat.current_metric_results(object()) == []
