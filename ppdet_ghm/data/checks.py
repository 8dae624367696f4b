"""Check a COCO-format dataset before PaddleDetection reads it.

PaddleDetection's ``COCODataSet`` handles some defects itself and crashes
deep inside a reader worker (or tries to download) on others.  This check
runs first, in the tools, and either stops with a :class:`DatasetError` that
names the file, the key and what was expected, or warns about what will be
left out of training, naming the image file and id:

==========================================  =================================
defect                                      outcome
==========================================  =================================
``dataset_dir`` / annotation file missing   error (nothing is downloaded)
annotation file empty, not JSON, no         error
``images``/``categories`` list
annotation with a ``category_id`` absent    error (ppdet: ``KeyError``)
from ``categories``, an unknown
``image_id``, or a bbox that is not 4
finite numbers
image file missing                          warning; ppdet skips the image
image file not a complete JPEG/PNG          error (the decoder would fill
(truncated, corrupt, empty)                 the rest with grey or crash)
box with width or height <= 0               warning; ppdet drops the box
box partly outside the image                warning; kept as annotated
box wholly outside the image                warning; kept, matches no anchor
image without (non-crowd) boxes             note; ppdet leaves it out of
                                            training unless ``allow_empty``
==========================================  =================================

Crowd boxes are dropped by ppdet unless ``load_crowd`` is set (then the
detector treats them as ignore regions), so an image whose boxes are all
crowd counts as an image without boxes.
"""
import json
import logging
import math
import os

__all__ = ['DatasetError', 'DatasetReport', 'check_coco_dataset',
           'check_dataset_config', 'image_file_problem']

logger = logging.getLogger('ppdet_ghm.data')

#: bytes read at each end of an image file for the completeness check
_TAIL_BYTES = 64


class DatasetError(ValueError):
    """A dataset defect that stops training or evaluation."""


class DatasetReport(object):
    """What :func:`check_coco_dataset` found (besides errors).

    Attributes:
        num_images (int), num_annotations (int): in the annotation file.
        skipped_images (list[str]): warnings about images left out.
        dropped_boxes (list[str]): warnings about boxes ppdet drops.
        outside_boxes (list[str]): warnings about boxes beyond the image.
        images_without_boxes (list[int]): image ids.
    """

    def __init__(self):
        self.num_images = 0
        self.num_annotations = 0
        self.skipped_images = []
        self.dropped_boxes = []
        self.outside_boxes = []
        self.images_without_boxes = []

    def warnings(self):
        return self.skipped_images + self.dropped_boxes + self.outside_boxes


def image_file_problem(path):
    """Why ``path`` is not a complete JPEG or PNG file, or None.

    Only the first and last bytes are read (cheap enough for every COCO
    image): a JPEG must start with the SOI marker and end with EOI (a
    truncated download does not), a PNG must start with its signature and end
    with the IEND chunk.  Other formats are not judged.
    """
    size = os.path.getsize(path)
    if size == 0:
        return 'the file is empty'
    with open(path, 'rb') as f:
        head = f.read(8)
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    ext = os.path.splitext(path)[1].lower()
    if head[:2] == b'\xff\xd8':
        # EOI may be followed by a few padding bytes
        if b'\xff\xd9' not in tail:
            return 'truncated JPEG (no end-of-image marker)'
        return None
    if head == b'\x89PNG\r\n\x1a\n':
        if b'IEND' not in tail:
            return 'truncated PNG (no IEND chunk)'
        return None
    if ext in ('.jpg', '.jpeg', '.png'):
        return 'not a {} file (starts with {!r})'.format(
            'PNG' if ext == '.png' else 'JPEG', head[:4])
    return None


def _load_annotations(path, key):
    if not os.path.isfile(path):
        raise DatasetError("{}: no annotation file at '{}'".format(key, path))
    if os.path.getsize(path) == 0:
        raise DatasetError("{}: the annotation file '{}' is empty (expected "
                           "COCO json with images, annotations, categories)"
                           .format(key, path))
    try:
        with open(path) as f:
            coco = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise DatasetError("{}: '{}' is not valid JSON: {}".format(
            key, path, err))
    if not isinstance(coco, dict):
        raise DatasetError("{}: '{}' must hold a JSON object with 'images', "
                           "'annotations' and 'categories', got a {}".format(
                               key, path, type(coco).__name__))
    for field in ('images', 'categories'):
        if not isinstance(coco.get(field), list):
            raise DatasetError("{}: '{}' has no '{}' list".format(
                key, path, field))
    if not coco['categories']:
        raise DatasetError("{}: '{}' has an empty 'categories' list".format(
            key, path))
    if not coco['images']:
        raise DatasetError("{}: '{}' has no images".format(key, path))
    return coco


def check_coco_dataset(dataset_dir, anno_path, image_dir='', key='Dataset',
                       check_image_files=True):
    """Check a COCO detection dataset as ppdet's ``COCODataSet`` reads it.

    Args:
        dataset_dir (str): root; ``anno_path`` and ``image_dir`` are under it.
        anno_path (str): COCO json.
        image_dir (str): folder of the images.
        key (str): config key for messages, e.g. ``'TrainDataset'``.
        check_image_files (bool): also check each image file's presence and
            completeness (a stat and two short reads per image).

    Returns:
        DatasetReport; warnings are also logged.

    Raises:
        DatasetError: for the defects that stop training (module docstring).
    """
    if not os.path.isdir(dataset_dir):
        raise DatasetError(
            "{}.dataset_dir: no directory '{}' (expected the folder that holds "
            "'{}' and '{}'; datasets are not downloaded)".format(
                key, dataset_dir, anno_path, image_dir))
    anno_file = os.path.join(dataset_dir, anno_path)
    coco = _load_annotations(anno_file, key + '.anno_path')
    report = DatasetReport()
    report.num_images = len(coco['images'])
    category_ids = {c.get('id') for c in coco['categories']}
    images = {}
    for im in coco['images']:
        if not {'id', 'file_name', 'width', 'height'} <= set(im):
            raise DatasetError("{}: image entry {!r} lacks one of id, "
                               "file_name, width, height".format(anno_file, im))
        images[im['id']] = im

    boxes_per_image = dict.fromkeys(images, 0)
    annotations = coco.get('annotations', [])
    report.num_annotations = len(annotations)
    for ann in annotations:
        ann_id, image_id = ann.get('id'), ann.get('image_id')
        if ann.get('category_id') not in category_ids:
            raise DatasetError(
                "{}: annotation id {} (image id {}) has category_id {!r}, "
                "which is not in 'categories' (ids {})".format(
                    anno_file, ann_id, image_id, ann.get('category_id'),
                    sorted(category_ids)))
        if image_id not in images:
            raise DatasetError("{}: annotation id {} refers to image_id {!r}, "
                               "which is not in 'images'".format(
                                   anno_file, ann_id, image_id))
        box = ann.get('bbox')
        if not (isinstance(box, list) and len(box) == 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v) for v in box)):
            raise DatasetError("{}: annotation id {} (image id {}): bbox must "
                               "be [x, y, w, h] finite numbers, got {!r}".format(
                                   anno_file, ann_id, image_id, box))
        im = images[image_id]
        where = "annotation id {} of image id {} ('{}')".format(
            ann_id, image_id, im['file_name'])
        x, y, w, h = box
        if w <= 0 or h <= 0:
            report.dropped_boxes.append(
                '{}: bbox {} has width or height <= 0: dropped'.format(
                    where, box))
            continue
        if ann.get('iscrowd', 0):
            continue
        boxes_per_image[image_id] += 1
        if x >= im['width'] or y >= im['height'] or x + w <= 0 or y + h <= 0:
            report.outside_boxes.append(
                '{}: bbox {} lies wholly outside the {}x{} image: it matches '
                'no anchor'.format(where, box, im['width'], im['height']))
        elif x < 0 or y < 0 or x + w > im['width'] or y + h > im['height']:
            report.outside_boxes.append(
                '{}: bbox {} extends beyond the {}x{} image: kept as '
                'annotated'.format(where, box, im['width'], im['height']))
    report.images_without_boxes = sorted(
        i for i, n in boxes_per_image.items() if n == 0)

    if check_image_files:
        folder = os.path.join(dataset_dir, image_dir)
        for image_id in sorted(images):
            path = os.path.join(folder, images[image_id]['file_name'])
            if not os.path.isfile(path):
                report.skipped_images.append(
                    "image id {}: no file '{}': the image is skipped".format(
                        image_id, path))
                continue
            problem = image_file_problem(path)
            if problem:
                raise DatasetError(
                    "{}: image id {} ('{}'): {}; replace the file or remove "
                    "the image from the annotations".format(
                        anno_file, image_id, path, problem))
    for message in report.warnings():
        logger.warning(message)
    return report


def check_dataset_config(dataset_cfg, key, check_image_files=True):
    """:func:`check_coco_dataset` for a config's ``TrainDataset`` /
    ``EvalDataset`` block; other dataset types are left to ppdet.

    Returns:
        DatasetReport or None (not a COCO dataset).
    """
    if dataset_cfg.get('name') != 'COCODataSet':
        return None
    def get(name):
        return dataset_cfg.get(name) or ''
    return check_coco_dataset(get('dataset_dir'), get('anno_path'),
                              get('image_dir'), key, check_image_files)
