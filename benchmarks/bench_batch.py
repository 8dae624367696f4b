"""The benchmark's input: one synthetic batch, drawn from a fixed seed, as
PaddleDetection's reader gives it with ``collate_batch: false``; its digest
shows that every worker saw the same batch."""
import hashlib

import numpy as np


def synthetic_batch(batch_size, image_size, seed):
    """Numpy arrays of one synthetic batch as PaddleDetection's reader gives
    it with ``collate_batch: false`` (ground truth per image).

    Images are normalised noise; each image has 2-6 boxes (16 px up to half
    the image, inside it) of random classes in [0, 80).

    Returns:
        dict: ``image`` (B, 3, S, S) float32, ``im_shape`` / ``scale_factor``
        (B, 2) float32, ``gt_bbox`` list of (G_i, 4) float32, ``gt_class``
        list of (G_i, 1) int32, ``is_crowd`` list of (G_i, 1) int32.
    """
    rng = np.random.default_rng(seed)
    size = float(image_size)
    batch = {
        'image': rng.standard_normal(
            (batch_size, 3, image_size, image_size)).astype('float32'),
        'im_shape': np.full((batch_size, 2), size, dtype='float32'),
        'scale_factor': np.ones((batch_size, 2), dtype='float32'),
        'gt_bbox': [], 'gt_class': [], 'is_crowd': [],
    }
    for _ in range(batch_size):
        num = int(rng.integers(2, 7))
        wh = rng.uniform(min(16.0, size / 4), size / 2, (num, 2))
        x1y1 = rng.uniform(0, 1, (num, 2)) * (size - wh)
        batch['gt_bbox'].append(
            np.concatenate([x1y1, x1y1 + wh], axis=1).astype('float32'))
        batch['gt_class'].append(
            rng.integers(0, 80, (num, 1)).astype('int32'))
        batch['is_crowd'].append(np.zeros((num, 1), dtype='int32'))
    return batch


def infer_batch(batch_size, infer_batch_size, image_size, seed):
    """The inference images: the first ``infer_batch_size`` of the training
    batch (or a batch of that size when it is larger)."""
    batch = synthetic_batch(max(batch_size, infer_batch_size), image_size,
                            seed)
    return {k: batch[k][:infer_batch_size]
            for k in ('image', 'im_shape', 'scale_factor')}


def batch_digest(batch):
    """sha256 of every array of the batch, in a fixed key order."""
    digest = hashlib.sha256()
    for key in sorted(batch):
        arrays = batch[key] if isinstance(batch[key], list) else [batch[key]]
        for array in arrays:
            digest.update(key.encode())
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def to_inputs(batch, count):
    """Tensors of the first ``count`` images, fresh for each step."""
    import paddle
    inputs = {}
    for key, value in batch.items():
        if isinstance(value, list):
            inputs[key] = [paddle.to_tensor(a) for a in value[:count]]
        else:
            inputs[key] = paddle.to_tensor(value[:count])
    return inputs
