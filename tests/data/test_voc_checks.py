"""ppdet_ghm.data.voc_checks: a VOC dataset's defects end in one line naming
the file, line or object; what ppdet skips or drops is a warning."""
import os

import pytest
from tiny_demo import CUSTOM_CLASSES, write_custom_coco, write_custom_voc

from ppdet_ghm.data import (DatasetError, check_dataset_config, check_voc_dataset,
                            read_label_list)


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    root = tmp_path_factory.mktemp('voc')
    coco = write_custom_coco(root / 'coco', num_train=4, num_val=2)
    return write_custom_voc(root / 'voc', coco)


@pytest.fixture
def copy(voc, tmp_path):
    import shutil
    target = str(tmp_path / 'voc')
    shutil.copytree(voc, target)
    return target


def _edit(path, old, new):
    with open(path) as f:
        text = f.read()
    assert old in text
    with open(path, 'w') as f:
        f.write(text.replace(old, new, 1))


def test_a_good_dataset_passes_with_its_counts(voc):
    report = check_voc_dataset(voc, 'trainval.txt', 'label_list.txt', key='TrainDataset')
    assert report.num_images == 4 and report.num_annotations > 4
    assert report.num_categories == 4 and report.warnings() == []
    assert report.categories_file == os.path.join(voc, 'label_list.txt')
    # what the training check calls for a config block
    block = {'name': 'VOCDataSet', 'dataset_dir': voc, 'anno_path': 'test.txt',
             'label_list': 'label_list.txt', 'image_dir': ''}
    assert check_dataset_config(block, 'EvalDataset').num_images == 2
    assert read_label_list(os.path.join(voc, 'label_list.txt')) == CUSTOM_CLASSES


def test_a_class_not_in_the_label_list_is_named(copy):
    xml = os.path.join(copy, 'Annotations', sorted(os.listdir(
        os.path.join(copy, 'Annotations')))[0])
    name = next(n for n in CUSTOM_CLASSES if '<name>{}</name>'.format(n) in open(xml).read())
    _edit(xml, '<name>{}</name>'.format(name), '<name>pear</name>')
    with pytest.raises(DatasetError, match=r"{}: object \d+ \('pear'\): class 'pear' is "
                       r"not in '.*label_list.txt' \(4 classes: apple, brick, cone, "
                       r"star\)".format(xml)):
        check_voc_dataset(copy, 'trainval.txt', 'label_list.txt')
    # without label_list ppdet uses the 20 Pascal VOC classes: named so
    with pytest.raises(DatasetError, match=r"not in the 20 Pascal VOC classes \(no "
                       r"label_list set\)"):
        check_voc_dataset(copy, 'trainval.txt')


@pytest.mark.parametrize('edit, message', [
    (('label_list.txt', 'brick\n', 'brick\n\n'), r"line 3 is blank"),
    (('label_list.txt', 'brick\n', 'brick\napple\n'), r"names 'apple' more than once"),
    (('trainval.txt', '.xml\n', '.xml\nJPEGImages/only_one.jpg\n'),
     r"trainval.txt:\d+: expected 'IMAGE XML' \(two paths\), got 'JPEGImages/only_one.jpg'"),
])
def test_broken_lists_are_named_by_file_and_line(copy, edit, message):
    name, old, new = edit
    _edit(os.path.join(copy, name), old, new)
    with pytest.raises(DatasetError, match=message):
        check_voc_dataset(copy, 'trainval.txt', 'label_list.txt')


@pytest.mark.parametrize('old, new, message', [
    ('<size>', '<other>', r'no <size> \(width, height\)'),
    ('</annotation>', '', r'not valid XML'),
    ('<xmin>', '<xmin>x', r"<xmin> must hold a number, got 'x"),
])
def test_a_broken_xml_is_named(copy, old, new, message):
    xml = os.path.join(copy, 'Annotations', sorted(os.listdir(
        os.path.join(copy, 'Annotations')))[0])
    with open(xml) as f:
        if old == '<xmin>' and old not in f.read():
            pytest.skip('first image has no object')
    _edit(xml, old, new)
    if old == '<size>':
        _edit(xml, '</size>', '</other>')
    with pytest.raises(DatasetError, match=message):
        check_voc_dataset(copy, 'trainval.txt', 'label_list.txt')


def test_missing_files_are_errors_or_skips(copy, tmp_path):
    with pytest.raises(DatasetError, match=r"TrainDataset.dataset_dir: no directory"):
        check_voc_dataset(str(tmp_path / 'none'), 'trainval.txt', key='TrainDataset')
    with pytest.raises(DatasetError, match=r"Dataset.anno_path: no file '.*train.txt'"):
        check_voc_dataset(copy, 'train.txt', 'label_list.txt')
    with pytest.raises(DatasetError, match=r"Dataset.label_list: no file '.*labels.txt'"):
        check_voc_dataset(copy, 'trainval.txt', 'labels.txt')
    # a listed image that is not there: skipped by ppdet, a warning here
    first = sorted(os.listdir(os.path.join(copy, 'JPEGImages')))[0]
    os.remove(os.path.join(copy, 'JPEGImages', first))
    report = check_voc_dataset(copy, 'trainval.txt', 'label_list.txt')
    assert report.num_images == 3
    assert len(report.skipped_images) == 1 and first in report.skipped_images[0]


def test_an_empty_box_is_a_dropped_box_warning(copy):
    xml = os.path.join(copy, 'Annotations', sorted(os.listdir(
        os.path.join(copy, 'Annotations')))[1])
    text = open(xml).read()
    start = text.index('<xmax>') + len('<xmax>')
    end = text.index('</xmax>')
    xmin = text[text.index('<xmin>') + len('<xmin>'):text.index('</xmin>')]
    with open(xml, 'w') as f:
        f.write(text[:start] + xmin + text[end:])
    report = check_voc_dataset(copy, 'trainval.txt', 'label_list.txt')
    assert len(report.dropped_boxes) == 1 and 'is empty inside' in report.dropped_boxes[0]
