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
annotation without ``area`` or              error (ppdet / pycocotools:
``iscrowd``                                 ``KeyError``)
two images with one ``id``, one file        error (training would see the
listed under two ids, two annotations or    image twice, evaluation mixes
categories with one ``id``                  the two ids' boxes or loses one)
image file missing                          warning; ppdet skips the image
image file not a complete JPEG/PNG          error (the decoder would fill
(truncated, corrupt, empty), a JPEG         the rest with grey or crash)
whose scan is cut short, a file that
does not decode
image ``width``/``height`` not those of     error (boxes are in the json's
the file                                    frame; ppdet names no file)
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
import hashlib
import json
import logging
import math
import os

__all__ = ['DatasetError', 'DataPipelineError', 'describe_pipeline_failure',
           'DatasetReport', 'check_coco_dataset',
           'check_dataset_config', 'image_file_problem', 'image_decode_problem',
           'image_problem',
           'image_size']

logger = logging.getLogger('ppdet_ghm.data')

#: bytes read at each end of an image file for the completeness check
_TAIL_BYTES = 64


class DatasetError(ValueError):
    """A dataset defect that stops training or evaluation."""


class DataPipelineError(DatasetError):
    """A sample that failed in the data pipeline (decoding, a transform)."""


def describe_pipeline_failure(dataset, indices, err):
    """A :class:`DataPipelineError` naming the image whose sample failed.

    Args:
        dataset: ppdet dataset (``roidbs`` with ``im_file``/``im_id``).
        indices (list[int]): the batch being read; the failing sample is
            found by reading them one by one again.
        err (Exception): what the pipeline raised.
    """
    culprit = None
    for index in indices:
        try:
            dataset[index]
        except Exception as sample_err:  # the first that fails
            culprit, err = index, sample_err
            break
    records = getattr(dataset, 'roidbs', None) or []
    record = records[culprit] if culprit is not None and culprit < len(records) else {}
    if 'im_file' in record:
        where = "image '{}'".format(record['im_file'])
    elif culprit is not None:
        where = 'sample {}'.format(culprit)
    else:
        where = 'one of samples {}'.format(list(indices))
    if 'im_id' in record:
        where += ' (id {})'.format(int(record['im_id'][0]) if hasattr(
            record['im_id'], '__len__') else record['im_id'])
    return DataPipelineError('reading {} failed in the data pipeline: {}: {}'
                             .format(where, type(err).__name__, err))


class DatasetReport(object):
    """What :func:`check_coco_dataset` found (besides errors).

    Attributes:
        num_images (int), num_annotations (int): in the annotation file.
        skipped_images (list[str]): warnings about images left out.
        dropped_boxes (list[str]): warnings about boxes ppdet drops.
        outside_boxes (list[str]): warnings about boxes beyond the image.
        images_without_boxes (list[int]): image ids.
        num_categories (int): entries of ``categories`` (VOC: names of the
            label list).
        categories_file (str): the file that names the classes (the COCO
            json; VOC: the label list, '' for the default classes).
    """

    def __init__(self):
        self.num_images = 0
        self.num_annotations = 0
        self.num_categories = 0
        self.categories_file = ''
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


def _decoder_messages(path):
    """Decode ``path`` with OpenCV at 1/8 scale (libjpeg still reads the
    whole scan) and return (decoded, what libjpeg printed on stderr).

    libjpeg reports a scan cut short ("Corrupt JPEG data: premature end of
    data segment") only on stderr and fills the rest of the image with
    grey; the file descriptor is borrowed for the call to read it."""
    import cv2
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    try:
        image = cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_8)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(write)
    with os.fdopen(read, 'rb') as f:
        messages = f.read().decode(errors='replace')
    return image is not None, ' '.join(messages.split())


def image_decode_problem(path):
    """Why ``path`` does not decode cleanly, or None: not decodable at all,
    or libjpeg's report of corrupt data (cheap checks first:
    :func:`image_file_problem`)."""
    decoded, messages = _decoder_messages(path)
    if not decoded:
        return 'the file does not decode as an image'
    if 'Corrupt JPEG data' in messages or 'Premature end' in messages:
        return 'corrupt JPEG data, the decoder reports: {}'.format(messages)
    return None


def image_problem(path):
    """Why ``path`` is not a clean image, or None: :func:`image_file_problem`
    (two short reads), then :func:`image_decode_problem` (a decode)."""
    return image_file_problem(path) or image_decode_problem(path)


def image_size(path):
    """``(width, height)`` of the image as OpenCV (ppdet's ``Decode``)
    gives it: from the header (PIL reads no pixels), swapped when the EXIF
    orientation turns it by 90 degrees, as OpenCV applies it.  A format PIL
    does not read is decoded with OpenCV."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError):
        import cv2
        decoded = cv2.imread(path, cv2.IMREAD_COLOR)
        return decoded.shape[1], decoded.shape[0]
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


class _DecodedImages(object):
    """Files already decoded cleanly (path, size, mtime), kept in
    ``~/.cache/ppdet_ghm`` so that a large dataset is decoded once, not at
    every start; a cache that cannot be read or written only costs time."""

    def __init__(self, anno_file):
        root = os.environ.get('XDG_CACHE_HOME') or os.path.join(
            os.path.expanduser('~'), '.cache')
        digest = hashlib.sha1(os.path.abspath(anno_file).encode()).hexdigest()
        self.path = os.path.join(root, 'ppdet_ghm', 'decoded-{}.json'.format(
            digest[:16]))
        try:
            with open(self.path) as f:
                self.known = json.load(f)
        except (OSError, ValueError):
            self.known = {}
        self.changed = False

    @staticmethod
    def _stamp(path):
        stat = os.stat(path)
        return [stat.st_size, stat.st_mtime_ns]

    def __contains__(self, path):
        return self.known.get(path) == self._stamp(path)

    def add(self, path):
        self.known[path] = self._stamp(path)
        self.changed = True

    def save(self):
        if not self.changed:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            temp = '{}.{}.tmp'.format(self.path, os.getpid())
            with open(temp, 'w') as f:
                json.dump(self.known, f)
            os.replace(temp, self.path)
        except OSError:
            pass


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
    report.categories_file = anno_file
    report.num_images = len(coco['images'])
    report.num_categories = len(coco['categories'])
    category_ids = {c.get('id') for c in coco['categories']}
    if len(category_ids) != len(coco['categories']):
        ids = [c.get('id') for c in coco['categories']]
        raise DatasetError("{}: category id {!r} appears twice in 'categories' "
                           "(ids must be unique)".format(
                               anno_file, next(i for i in ids if ids.count(i) > 1)))
    images, id_of_file = {}, {}
    for im in coco['images']:
        if not {'id', 'file_name', 'width', 'height'} <= set(im):
            raise DatasetError("{}: image entry {!r} lacks one of id, "
                               "file_name, width, height".format(anno_file, im))
        if im['id'] in images:
            raise DatasetError(
                "{}: two images have id {!r}: '{}' and '{}' (ids must be "
                "unique)".format(anno_file, im['id'],
                                 images[im['id']]['file_name'], im['file_name']))
        other = id_of_file.setdefault(os.path.normpath(im['file_name']), im['id'])
        if other != im['id']:
            raise DatasetError(
                "{}: the file '{}' is listed twice, as image ids {!r} and {!r} "
                "(each image once)".format(anno_file, im['file_name'], other,
                                          im['id']))
        images[im['id']] = im

    boxes_per_image = dict.fromkeys(images, 0)
    annotations = coco.get('annotations', [])
    report.num_annotations = len(annotations)
    for field, why in (('id', 'pycocotools indexes annotations by it'),
                       ('area', "ppdet drops a box by it; COCO's is the "
                                "object's area, e.g. w * h of the bbox"),
                       ('iscrowd', 'pycocotools needs it; 0 for an ordinary '
                                   'box')):
        lacking = [a for a in annotations if field not in a]
        if lacking:
            raise DatasetError(
                "{}: {} annotation(s) have no '{}', first annotation id {} "
                "(image id {}) ({})".format(
                    anno_file, len(lacking), field, lacking[0].get('id'),
                    lacking[0].get('image_id'), why))
    seen_ids = set()
    for ann in annotations:
        ann_id, image_id = ann.get('id'), ann.get('image_id')
        if ann_id in seen_ids:
            raise DatasetError(
                "{}: two annotations have id {!r} (image id {}); pycocotools "
                "would keep one of them only".format(anno_file, ann_id, image_id))
        seen_ids.add(ann_id)
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
        _check_image_files(images, os.path.join(dataset_dir, image_dir),
                           anno_file, report)
    for message in report.warnings():
        logger.warning(message)
    return report


def _check_image_files(images, folder, anno_file, report):
    decoded = _DecodedImages(anno_file)
    try:
        for image_id in sorted(images):
            im = images[image_id]
            path = os.path.join(folder, im['file_name'])
            if not os.path.isfile(path):
                report.skipped_images.append(
                    "image id {}: no file '{}': the image is skipped".format(
                        image_id, path))
                continue
            cached = path in decoded
            problem = image_file_problem(path) if cached else image_problem(path)
            if problem is None and not cached:
                decoded.add(path)
            if problem:
                raise DatasetError(
                    "{}: image id {} ('{}'): {}; replace the file or remove "
                    "the image from the annotations".format(
                        anno_file, image_id, path, problem))
            size = image_size(path)
            if size != (im['width'], im['height']):
                raise DatasetError(
                    "{}: image id {} ('{}') is {}x{} in the file but {}x{} in "
                    "the annotations; the boxes are in the annotations' frame: "
                    "fix width/height (or the boxes)".format(
                        anno_file, image_id, path, size[0], size[1],
                        im['width'], im['height']))
    finally:
        decoded.save()


def check_dataset_config(dataset_cfg, key, check_image_files=True):
    """:func:`check_coco_dataset` (or :func:`.voc_checks.check_voc_dataset`)
    for a config's ``TrainDataset`` / ``EvalDataset`` block; other dataset
    types are left to ppdet.

    Returns:
        DatasetReport or None (neither a COCO nor a VOC dataset).
    """
    def get(name):
        return dataset_cfg.get(name) or ''
    if dataset_cfg.get('name') == 'VOCDataSet':
        from .voc_checks import check_voc_dataset
        return check_voc_dataset(get('dataset_dir'), get('anno_path'),
                                 get('label_list') or None, get('image_dir'),
                                 key, check_image_files)
    if dataset_cfg.get('name') != 'COCODataSet':
        return None
    return check_coco_dataset(get('dataset_dir'), get('anno_path'),
                              get('image_dir'), key, check_image_files)
