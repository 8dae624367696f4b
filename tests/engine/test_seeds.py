"""A seed fixes initialisation, augmentation and data order: the same seed
trains bit-identically, another seed shuffles the data otherwise."""
import os

from tiny_demo import write_tiny_config

from ppdet_ghm.engine import load_config, train
from ppdet_ghm.engine.training import SEED_EPOCH_STRIDE, data_order_epoch


def _train(tmp_path, data, name, seed):
    path = write_tiny_config(tmp_path / '{}.yml'.format(name), data,
                             tmp_path / 'out', epoch=2)
    train(load_config(path), seed=seed)
    with open(os.path.join(str(tmp_path / 'out' / name), 'loss_rank0.jsonl')) as f:
        return f.read()


def test_the_same_seed_trains_bit_identically_and_another_does_not(
        tmp_path, tiny_data):
    # the demo config's RandomFlip draws from numpy in the loader's thread
    first = _train(tmp_path, tiny_data, 'a', seed=5)
    assert _train(tmp_path, tiny_data, 'b', seed=5) == first
    assert _train(tmp_path, tiny_data, 'c', seed=6) != first


def test_the_seed_sets_the_data_order_of_every_epoch(tiny_data):
    from ppdet.data.source.coco import COCODataSet
    from paddle.io import DistributedBatchSampler
    dataset = COCODataSet(dataset_dir=tiny_data, image_dir='train',
                          anno_path='annotations/instances_train.json')
    dataset.parse_dataset()

    def order(seed, epoch):
        sampler = DistributedBatchSampler(dataset, batch_size=1, shuffle=True)
        sampler.set_epoch(data_order_epoch(seed, epoch))
        return [batch[0] for batch in sampler]

    assert order(None, 1) == order(0, 1)         # seed 0: the unseeded order
    assert order(3, 0) == order(3, 0)
    assert order(3, 0) != order(4, 0) and order(3, 0) != order(3, 1)
    assert data_order_epoch(2, 7) == 2 * SEED_EPOCH_STRIDE + 7
