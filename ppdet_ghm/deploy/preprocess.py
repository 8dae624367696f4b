"""The preprocessing operators ``infer_cfg.yml`` lists, on numpy arrays.

Each computes what PaddleDetection's reader operator of the same name
computes in ``tools/infer.py`` (same OpenCV calls, same numpy dtypes and
order of operations), so that the deployed model sees the same input to the
last bit.  An operator not implemented here is refused by name.

A sample is a dict: ``image`` (``(H, W, 3)`` RGB, then ``(3, H, W)``
float32), ``im_shape`` ``(2,)`` float32 (h, w after resizing) and
``scale_factor`` ``(2,)`` float32 (y, x).
"""
import cv2
import numpy as np

from .infer_config import DeployError

__all__ = ['decode_image', 'preprocess', 'pad_batch', 'OPERATORS']


def decode_image(path):
    """``path`` as an RGB uint8 ``(H, W, 3)`` array (ppdet's ``Decode``)."""
    with open(path, 'rb') as f:
        data = np.frombuffer(f.read(), dtype='uint8')
    image = cv2.imdecode(data, 1)
    if image is None:
        raise DeployError("'{}': the file does not decode as an image".format(path))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _resize(sample, target_size, keep_ratio=True, interp=cv2.INTER_LINEAR, **_):
    image = sample['image']
    if keep_ratio:
        size_min, size_max = np.min(image.shape[:2]), np.max(image.shape[:2])
        scale = min(np.min(target_size) / size_min, np.max(target_size) / size_max)
        resize_h, resize_w = scale * float(image.shape[0]), scale * float(image.shape[1])
        scale_x = scale_y = scale
    else:
        resize_h, resize_w = target_size
        scale_y, scale_x = resize_h / image.shape[0], resize_w / image.shape[1]
    sample['image'] = cv2.resize(image, None, None, fx=scale_x, fy=scale_y,
                                 interpolation=interp).astype(np.float32)
    sample['im_shape'] = np.asarray([resize_h, resize_w], dtype=np.float32)
    sample['scale_factor'] = np.asarray(
        [sample['scale_factor'][0] * scale_y, sample['scale_factor'][1] * scale_x],
        dtype=np.float32)


def _normalize(sample, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
               is_scale=True, norm_type='mean_std', **_):
    image = sample['image'].astype(np.float32, copy=False)
    if is_scale:
        image *= 1.0 / 255.0
    if norm_type == 'mean_std':
        image -= np.array(mean)[np.newaxis, np.newaxis, :]
        image /= np.array(std)[np.newaxis, np.newaxis, :]
    sample['image'] = image


def _permute(sample, **_):
    sample['image'] = sample['image'].transpose((2, 0, 1))


def _pad_stride(sample, stride=0, **_):
    """Zero-pad ``(C, H, W)`` to multiples of ``stride`` (batches are padded
    to a common size by :func:`pad_batch`)."""
    if stride <= 0:
        return
    c, h, w = sample['image'].shape
    padded = np.zeros((c, int(np.ceil(h / stride) * stride),
                       int(np.ceil(w / stride) * stride)), dtype=np.float32)
    padded[:, :h, :w] = sample['image']
    sample['image'] = padded
    sample['stride'] = stride


OPERATORS = {'Resize': _resize, 'NormalizeImage': _normalize,
             'Permute': _permute, 'PadStride': _pad_stride}


def preprocess(path, operators):
    """One image file through the ``Preprocess`` list of ``infer_cfg.yml``.

    Returns:
        dict: ``image`` ``(3, H, W)`` float32, ``im_shape``, ``scale_factor``.
    """
    image = decode_image(path)
    sample = {'image': image,
              'im_shape': np.array(image.shape[:2], dtype=np.float32),
              'scale_factor': np.array([1., 1.], dtype=np.float32)}
    for op in operators:
        kind = op['type']
        if kind not in OPERATORS:
            raise DeployError("infer_cfg.yml: preprocessing operator '{}' is not "
                              "supported (supported: {})".format(
                                  kind, ', '.join(sorted(OPERATORS))))
        OPERATORS[kind](sample, **{k: v for k, v in op.items() if k != 'type'})
    return sample


def pad_batch(samples):
    """Stack samples of different sizes: zero-pad each image to the largest
    height and width of the batch (rounded up to the samples' stride), as
    PaddleDetection's ``PadBatch`` does.

    Returns:
        dict of arrays: ``image`` ``(B, 3, H, W)``, ``im_shape`` ``(B, 2)``,
        ``scale_factor`` ``(B, 2)``.
    """
    stride = max(s.get('stride', 0) for s in samples)
    height = max(s['image'].shape[1] for s in samples)
    width = max(s['image'].shape[2] for s in samples)
    if stride > 0:
        height = int(np.ceil(height / stride) * stride)
        width = int(np.ceil(width / stride) * stride)
    images = np.zeros((len(samples), 3, height, width), dtype=np.float32)
    for i, s in enumerate(samples):
        _, h, w = s['image'].shape
        images[i, :, :h, :w] = s['image']
    return {'image': images,
            'im_shape': np.stack([s['im_shape'] for s in samples]),
            'scale_factor': np.stack([s['scale_factor'] for s in samples])}
