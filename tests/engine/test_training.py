"""ppdet_ghm.engine.train: training from Python gets what tools/train.py
gets (checks, guard, per-rank logs, atomic checkpoints), with problems
raised as exceptions instead of exit codes."""
import os

import numpy as np
import paddle
import pytest
from conftest import config_and_model
from tiny_demo import EXPLODING_LR, assert_loadable_checkpoint, write_tiny_config

from ppdet_ghm.data import DatasetError
from ppdet_ghm.engine import NonFiniteLossError, TrainResult, train
from ppdet_ghm.utils import ConfigError


@pytest.fixture
def data(tiny_data):
    return tiny_data


def load(tmp_path, data, epoch=1, extra=''):
    from ppdet_ghm.engine import load_config
    path = write_tiny_config(tmp_path / 'run.yml', data, tmp_path / 'out',
                             epoch=epoch, extra=extra)
    return load_config(path), str(tmp_path / 'out' / 'run')


def test_train_from_python_logs_per_rank_and_saves_atomically(tmp_path, data):
    cfg, out = load(tmp_path, data)
    result = train(cfg)
    assert isinstance(result, TrainResult)
    assert result.save_dir == out and result.skipped == []
    files = sorted(os.listdir(out))
    # the last epoch is saved as model_final only; no temporary file is left
    assert files == ['loss_rank0.jsonl', 'model_final.pdopt',
                     'model_final.pdparams']
    with open(os.path.join(out, 'loss_rank0.jsonl')) as f:
        assert len(f.read().splitlines()) == 4   # 8 images / batch 2


def _process_state():
    """What train() changes while it runs: Paddle's single-process loader,
    ppdet's save_model, the SIGTERM/SIGINT handlers."""
    import signal

    import ppdet.engine.callbacks as callbacks
    from paddle.io.dataloader import dataloader_iter
    cls = dataloader_iter._DataLoaderIterSingleProcess
    return (cls._thread_loop, cls.__next__, callbacks.save_model,
            signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))


def test_train_leaves_paddle_ppdet_and_the_process_as_they_were(tmp_path, data):
    from ppdet_ghm.engine import create_trainer
    before = _process_state()
    create_trainer(load(tmp_path, data)[0], 'train')  # as a notebook would
    assert _process_state() == before
    train(load(tmp_path, data)[0])
    assert _process_state() == before
    (tmp_path / 'nan').mkdir()
    cfg, _ = load(tmp_path / 'nan', data, epoch=3, extra=EXPLODING_LR)
    with pytest.raises(NonFiniteLossError):
        train(cfg)
    assert _process_state() == before     # also after an error


def test_nonfinite_loss_is_raised_naming_the_latest_checkpoint(tmp_path, data):
    cfg, out = load(tmp_path, data, epoch=3, extra=EXPLODING_LR)
    with pytest.raises(NonFiniteLossError) as info:
        train(cfg)
    message = str(info.value)
    assert 'iteration 5 (epoch 1, step 1): non-finite loss' in message
    assert message.endswith('latest checkpoint: ' + os.path.join(out, '0'))
    assert_loadable_checkpoint(os.path.join(out, '0'))


def test_bad_guard_setting_is_a_config_error_naming_the_file(tmp_path, data):
    cfg, _ = load(tmp_path, data, extra='nonfinite_loss: retry\n')
    with pytest.raises(ConfigError, match=r"run\.yml: nonfinite_loss: expected "
                       r"one of stop, skip, got 'retry'"):
        train(cfg)


def test_missing_dataset_is_refused_before_the_trainer(tmp_path, data):
    cfg, out = load(tmp_path, data, extra='TrainDataset: {{dataset_dir: {}}}\n'
                    .format(tmp_path / 'nowhere'))
    with pytest.raises(DatasetError, match='nowhere'):
        train(cfg)
    assert not os.path.exists(out)


def test_amp_run_keeps_ghm_state_finite(tmp_path, data):
    cfg, out = load(tmp_path, data)
    cfg['amp'] = True                      # what tools/train.py --amp sets
    train(cfg)
    state = paddle.load(os.path.join(out, 'model_final.pdparams'), return_numpy=True)
    for key in ('head.loss_class.acc_sum', 'head.loss_bbox.acc_sum'):
        assert state[key].dtype == np.float32
        assert np.isfinite(state[key]).all() and state[key].sum() > 0


def test_half_precision_head_outputs_keep_ghm_weights_finite():
    """Paddle's autocast is a no-op on a CPU (and ppdet enables it on GPUs
    only), so here the head's logits and deltas are cast to float16 as GPU
    autocast would produce them, for a few training steps. (bfloat16: Paddle
    has no CPU concat_grad kernel for it; the losses' own bfloat16 handling
    is tested in tests/losses.)"""
    dtype = 'float16'
    _, model = config_and_model('configs/demo/retinanet_ghm_demo.yml')
    model.train()
    for conv in (model.head.retina_cls, model.head.retina_reg):
        conv.register_forward_post_hook(lambda layer, x, y: y.astype(dtype))
    opt = paddle.optimizer.Momentum(0.01, parameters=model.parameters())
    rng = np.random.default_rng(0)
    inputs = {'image': paddle.to_tensor(rng.random((2, 3, 64, 64), dtype=np.float32)),
              'gt_bbox': [paddle.to_tensor([[10., 10., 40., 50.]])] * 2,
              'gt_class': [paddle.to_tensor([[1]], dtype='int32')] * 2,
              'im_shape': paddle.to_tensor([[64., 64.]] * 2),
              'scale_factor': paddle.ones([2, 2])}
    for _ in range(3):
        out = model(inputs)
        out['loss'].backward()
        grad = model.head.retina_cls.weight.grad
        assert grad.dtype == paddle.float32 and np.isfinite(grad.numpy()).all()
        opt.step()
        opt.clear_grad()
        assert all(np.isfinite(float(v)) for v in out.values())
    for loss in (model.head.loss_class, model.head.loss_bbox):
        assert loss.acc_sum.dtype == paddle.float32
        assert np.isfinite(loss.acc_sum.numpy()).all() and float(loss.acc_sum.sum()) > 0


def test_fewer_classes_than_the_dataset_has_is_refused(tmp_path, data):
    cfg, out = load(tmp_path, data, extra='num_classes: 3\n')
    with pytest.raises(DatasetError, match=r"TrainDataset: '.*instances_train\.json' "
                       r"has 4 categories but num_classes is 3"):
        train(cfg)
    assert not os.path.exists(out)


def test_more_classes_than_the_dataset_has_is_a_warning(tmp_path, data, capsys):
    cfg, _ = load(tmp_path, data, extra='num_classes: 5\n')
    train(cfg)
    assert 'has 4 categories, num_classes is 5: the head has outputs no ' \
           'category trains' in capsys.readouterr().err


def test_a_save_dir_that_cannot_be_written_is_refused_before_training(tmp_path, data):
    from ppdet_ghm.engine import OutputError
    blocker = tmp_path / 'not_a_dir'
    blocker.write_text('')
    cfg, _ = load(tmp_path, data, extra='save_dir: {}\n'.format(blocker))
    with pytest.raises(OutputError, match="save_dir: cannot write to '{}/run': Not a "
                       "directory".format(blocker)):
        train(cfg)


def test_pretrain_weights_on_a_dotted_path_without_suffix_are_loaded(tmp_path, data):
    (tmp_path / 'first').mkdir()
    first, out = load(tmp_path / 'first', data)
    train(first)
    dotted = str(tmp_path / 'weights.v2')
    os.rename(os.path.join(out, 'model_final.pdparams'), dotted + '.pdparams')
    cfg, _ = load(tmp_path, data, extra='pretrain_weights: {}\n'.format(dotted))
    train(cfg)                              # ppdet alone: "Unknown postfix .v2"


@pytest.mark.parametrize('seed', [-1, 2**32, True])
def test_a_seed_numpy_and_paddle_cannot_take_is_refused(tmp_path, data, seed):
    cfg, _ = load(tmp_path, data)
    with pytest.raises(ConfigError, match=r'--seed: expected an integer from 0 to '
                       r'4294967295, got {}'.format(seed)):
        train(cfg, seed=seed)


def test_an_epoch_without_a_step_is_refused_not_saved_untrained(tmp_path, data):
    # ppdet only warns, then saves the untrained model as model_final
    cfg, out = load(tmp_path, data, extra='TrainReader: {batch_size: 100, drop_last: true}\n')
    with pytest.raises(ConfigError, match=r'an epoch has no training step: 8 '
                       r'image\(s\) over 1 rank\(s\) with TrainReader.batch_size 100 '
                       r'and drop_last True'):
        train(cfg)
    assert not os.path.exists(os.path.join(out, 'model_final.pdparams'))


def test_resuming_a_finished_run_says_there_is_nothing_to_train(tmp_path, data):
    cfg, out = load(tmp_path, data)
    train(cfg)
    cfg, out = load(tmp_path, data)
    final = os.path.join(out, 'model_final')
    with pytest.raises(ConfigError, match=r"the checkpoint '{}.pdparams' is at epoch 1 "
                       r"and the config trains to epoch 1: nothing to train \(to go "
                       r"on, raise epoch: -o epoch=N\)".format(final)):
        train(cfg, resume=final)


def test_an_output_eval_under_a_file_is_refused_before_training(tmp_path, data):
    from ppdet_ghm.engine import OutputError
    blocker = tmp_path / 'eval_file'
    blocker.write_text('')
    cfg, out = load(tmp_path, data, extra='output_eval: {}/bbox\n'.format(blocker))
    with pytest.raises(OutputError, match="output_eval: cannot create '.*bbox': "
                       "'.*eval_file' is a file"):
        train(cfg, evaluate=True)
    assert not os.path.exists(os.path.join(out, 'loss_rank0.jsonl'))
