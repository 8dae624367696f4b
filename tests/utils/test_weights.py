"""The strict weights check."""
import paddle
import pytest

from ppdet_ghm.utils import (WeightsError, check_weights_cover_model,
                             resolve_pretrain_weights)


class Net(paddle.nn.Layer):
    def __init__(self, width=3):
        super().__init__()
        self.fc = paddle.nn.Linear(2, width)
        self.bn = paddle.nn.BatchNorm1D(width)
        self.register_buffer('scratch', paddle.zeros([1]), persistable=False)


def save(tmp_path, state, name='w.pdparams'):
    path = str(tmp_path / name)
    paddle.save(state, path)
    return path


def test_complete_weights_pass_with_or_without_suffix(tmp_path):
    state = Net().state_dict()
    state['extra.key'] = paddle.zeros([1])  # extra keys are allowed
    path = save(tmp_path, state)
    assert check_weights_cover_model(Net(), path) == path
    assert check_weights_cover_model(Net(), path[:-len('.pdparams')]) == path


def test_missing_parameter_and_buffer_are_listed(tmp_path):
    state = Net().state_dict()
    del state['fc.weight']
    del state['bn._mean']  # a persistable buffer (running mean)
    with pytest.raises(WeightsError) as err:
        check_weights_cover_model(Net(), save(tmp_path, state))
    assert '2 missing' in str(err.value)
    assert 'fc.weight' in str(err.value) and 'bn._mean' in str(err.value)
    assert 'scratch' not in str(err.value)  # not persistable: not required


def test_shape_mismatch_is_listed(tmp_path):
    with pytest.raises(WeightsError, match=r'fc.weight \(model \[2, 3\] vs file \[2, 5\]\)'):
        check_weights_cover_model(Net(3), save(tmp_path, Net(5).state_dict()))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(WeightsError, match='no file at .*nothing'):
        check_weights_cover_model(Net(), str(tmp_path / 'nothing'))
    bad = tmp_path / 'trunc.pdparams'
    bad.write_bytes(b'\x80\x04garbage')
    with pytest.raises(WeightsError, match='cannot read'):
        check_weights_cover_model(Net(), str(bad))


def test_offline_download_error_says_how_to_pass_a_file(monkeypatch):
    import ppdet.utils.download as download

    def no_network(url):
        raise ConnectionError('no route to host')
    monkeypatch.setattr(download, 'get_weights_path', no_network)
    with pytest.raises(WeightsError) as err:
        resolve_pretrain_weights('https://example.org/ResNet50_cos_pretrained.pdparams')
    message = str(err.value)
    assert 'https://example.org/ResNet50_cos_pretrained.pdparams' in message
    assert '-o pretrain_weights=/path/to/ResNet50_cos_pretrained.pdparams' in message
    assert resolve_pretrain_weights(None) is None


def test_missing_local_pretrain_file_says_what_to_do(tmp_path):
    with pytest.raises(WeightsError, match="pretrain_weights: no file at .*-o pretrain_weights="):
        resolve_pretrain_weights(str(tmp_path / 'ResNeXt101_32x4d_imagenet.pdparams'))


@pytest.mark.parametrize('value, counts', [(float('nan'), '1 NaN and 0 inf'),
                                           (float('inf'), '0 NaN and 1 inf')])
def test_weights_with_nan_or_inf_are_refused_naming_the_first_tensor(tmp_path, value,
                                                                     counts):
    state = Net().state_dict()
    weight = state['fc.weight'].numpy()
    weight[0, 1] = value
    state['fc.weight'] = paddle.to_tensor(weight)
    path = save(tmp_path, state)
    with pytest.raises(WeightsError, match=r"weights: '{}' holds non-finite values, "
                       r"first in 'fc.weight' \({} of 6 values\)".format(path, counts)):
        check_weights_cover_model(Net(), path)


def test_pretrain_weights_given_without_suffix_on_a_dotted_path_resolve_to_the_file(
        tmp_path):
    # ppdet takes '.v2' for an unknown suffix: hand it the file itself
    path = save(tmp_path, Net().state_dict(), name='backbone.v2.pdparams')
    assert resolve_pretrain_weights(path[:-len('.pdparams')]) == path
    assert resolve_pretrain_weights(path) == path


def test_pretrain_weights_with_nan_are_refused(tmp_path):
    state = Net().state_dict()
    state['bn._mean'] = paddle.full([3], float('nan'))
    path = save(tmp_path, state)
    with pytest.raises(WeightsError, match=r"pretrain_weights: .*first in 'bn._mean'"):
        resolve_pretrain_weights(path)
