"""The dataset check for Pascal VOC-format datasets (PaddleDetection's
``VOCDataSet``), run before ppdet reads them.

A VOC dataset is a folder with a list file (``trainval.txt``: one ``IMAGE
XML`` pair of paths per line, relative to ``dataset_dir/image_dir``), the
XML files and a ``label_list.txt`` (one class name per line, in class-id
order).  ppdet ends in a ``KeyError`` on an object whose name is not in the
label list and in an ``AttributeError`` on an XML without ``size``; it skips
listed images or XMLs that do not exist with a log line.  Here the first
two are :class:`~.checks.DatasetError` naming the file, line or object; the
skips and the boxes ppdet drops are warnings.
"""
import logging
import os
import xml.etree.ElementTree as ET

from .checks import DatasetError, DatasetReport, image_problem

__all__ = ['check_voc_dataset', 'read_label_list', 'PASCAL_VOC_CLASSES']

logger = logging.getLogger(__name__)

# ppdet's pascalvoc_label() order: what VOCDataSet uses without label_list
PASCAL_VOC_CLASSES = (
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
    'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')


def read_label_list(path, key='label_list'):
    """The class names of a ``label_list.txt`` (one per line), in class-id
    order.

    Raises:
        DatasetError: no such file, no name in it, a blank line (ppdet
            would count it as a class named ''), or a name twice.
    """
    if not os.path.isfile(path):
        raise DatasetError("{}: no file '{}' (one class name per line, in "
                           "class-id order)".format(key, path))
    with open(path) as f:
        names = [line.strip() for line in f]
    if '' in names:
        raise DatasetError("{}: '{}' line {} is blank (ppdet would count it "
                           "as a class named '')".format(
                               key, path, names.index('') + 1))
    if not names:
        raise DatasetError("{}: '{}' names no class".format(key, path))
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DatasetError("{}: '{}' names {!r} more than once".format(
            key, path, twice[0]))
    return names


def _number(node, tag, where):
    child = node.find(tag)
    try:
        return float(child.text)
    except (AttributeError, TypeError, ValueError):
        raise DatasetError('{}: <{}> must hold a number, got {!r}'.format(
            where, tag, None if child is None else child.text)) from None


def check_voc_dataset(dataset_dir, anno_path, label_list=None, image_dir='',
                      key='Dataset', check_image_files=True):
    """Check a VOC detection dataset as ppdet's ``VOCDataSet`` reads it.

    Args:
        dataset_dir (str): root; ``anno_path``, ``label_list`` and
            ``image_dir`` are under it.
        anno_path (str): the list file (``IMAGE XML`` per line).
        label_list (str or None): ``label_list.txt``; None: the 20 Pascal
            VOC classes (ppdet's default).
        image_dir (str): folder the list's paths are relative to.
        key (str): config key for messages, e.g. ``'TrainDataset'``.
        check_image_files (bool): also check that each image decodes.

    Returns:
        DatasetReport (``categories_file`` is the label list).

    Raises:
        DatasetError: a missing folder, list file or label list, a list line
            that is not two paths, an XML that does not parse or lacks its
            size or a box, an object whose class is not in the label list.
    """
    if not os.path.isdir(dataset_dir):
        raise DatasetError(
            "{}.dataset_dir: no directory '{}' (expected the folder that holds "
            "'{}'; datasets are not downloaded)".format(key, dataset_dir,
                                                         anno_path))
    report = DatasetReport()
    if label_list:
        report.categories_file = os.path.join(dataset_dir, label_list)
        names = read_label_list(report.categories_file, key + '.label_list')
    else:
        names = list(PASCAL_VOC_CLASSES)
    report.num_categories = len(names)
    known = set(names)
    list_file = os.path.join(dataset_dir, anno_path)
    if not os.path.isfile(list_file):
        raise DatasetError("{}.anno_path: no file '{}' (one 'IMAGE XML' pair "
                           "of paths per line)".format(key, list_file))
    root = os.path.join(dataset_dir, image_dir or '')
    with open(list_file) as f:
        lines = [(n, line.split()) for n, line in enumerate(f, 1) if line.strip()]
    for number, fields in lines:
        where = '{}:{}'.format(list_file, number)
        if len(fields) < 2:
            raise DatasetError("{}: expected 'IMAGE XML' (two paths), got "
                               "{!r}".format(where, ' '.join(fields)))
        image, xml = (os.path.join(root, p) for p in fields[:2])
        if not os.path.isfile(image) or not os.path.isfile(xml):
            report.skipped_images.append("{}: no file '{}': the image is "
                                         "skipped".format(
                                             where, image if not os.path.isfile(
                                                 image) else xml))
            continue
        report.num_images += 1
        try:
            tree = ET.parse(xml)
        except ET.ParseError as err:
            raise DatasetError("{}: not valid XML: {}".format(xml, err)) from err
        size = tree.find('size')
        if size is None:
            raise DatasetError('{}: no <size> (width, height)'.format(xml))
        width, height = _number(size, 'width', xml), _number(size, 'height', xml)
        boxes = 0
        for index, obj in enumerate(tree.findall('object')):
            name = obj.findtext('name')
            place = '{}: object {} ({!r})'.format(xml, index, name)
            if name not in known:
                raise DatasetError(
                    "{}: class {!r} is not in {} ({} classes: {}); add it to "
                    "the label list or fix the name".format(
                        place, name, "'{}'".format(report.categories_file)
                        if label_list else "the 20 Pascal VOC classes (no "
                        "label_list set)", len(names), ', '.join(names[:8])
                        + (', ...' if len(names) > 8 else '')))
            box = obj.find('bndbox')
            if box is None:
                raise DatasetError('{}: no <bndbox>'.format(place))
            x1, y1, x2, y2 = (_number(box, t, place)
                              for t in ('xmin', 'ymin', 'xmax', 'ymax'))
            # ppdet clips to the image, then drops what is left empty
            if min(x2, width - 1) <= max(0, x1) or min(y2, height - 1) <= max(0, y1):
                report.dropped_boxes.append(
                    '{}: box [{}, {}, {}, {}] is empty inside the {:g}x{:g} '
                    'image: dropped'.format(place, x1, y1, x2, y2, width, height))
                continue
            boxes += 1
        report.num_annotations += boxes
        if not boxes:
            report.images_without_boxes.append(number)
        if check_image_files:
            problem = image_problem(image)
            if problem:
                raise DatasetError("{}: '{}': {}; replace the file or remove "
                                   "its line".format(where, image, problem))
    for message in report.warnings():
        logger.warning(message)
    return report
