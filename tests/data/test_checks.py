"""ppdet_ghm.data.checks: every dataset defect ends in a documented handling
(the image/box left out with a warning naming it) or a DatasetError naming
the file, id and value -- and the documented handling is what PaddleDetection's
COCODataSet then really does."""
import json
import os
import shutil

import pytest

from ppdet_ghm.data import (DatasetError, check_coco_dataset,
                            generate_demo_dataset, image_file_problem)

ANNO = 'annotations/instances_train.json'


@pytest.fixture(scope='module')
def pristine(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('pristine'))
    generate_demo_dataset(root, num_train=6, num_val=2, image_size=64, seed=4)
    return root


@pytest.fixture
def dataset(pristine, tmp_path):
    """A fresh copy to damage, and helpers to edit its annotations."""
    root = str(tmp_path / 'data')
    shutil.copytree(pristine, root)
    path = os.path.join(root, ANNO)

    class Data:
        dir = root

        @staticmethod
        def coco():
            with open(path) as f:
                return json.load(f)

        @staticmethod
        def write(coco):
            with open(path, 'w') as f:
                json.dump(coco, f)

        @staticmethod
        def image(image_id):
            return os.path.join(root, 'train', '{:06d}.jpg'.format(image_id))

        @staticmethod
        def check(**kw):
            return check_coco_dataset(root, ANNO, 'train', 'TrainDataset', **kw)
    return Data


def ppdet_records(root, allow_empty=False, load_crowd=False):
    """What PaddleDetection's COCODataSet makes of the training split."""
    from ppdet.data.source.coco import COCODataSet
    ds = COCODataSet(dataset_dir=root, image_dir='train', anno_path=ANNO,
                     data_fields=['image', 'gt_bbox', 'gt_class', 'is_crowd'],
                     allow_empty=allow_empty, load_crowd=load_crowd)
    ds.parse_dataset()
    return {int(r['im_id'][0]): r for r in ds.roidbs}


def test_a_clean_dataset_passes(dataset):
    report = dataset.check()
    assert report.warnings() == [] and report.num_images == 6
    assert report.num_annotations == len(dataset.coco()['annotations'])


def test_wrong_dataset_dir_is_an_error_naming_it(tmp_path):
    with pytest.raises(DatasetError, match=r"TrainDataset.dataset_dir: no "
                       r"directory '.*/nowhere'.*not downloaded"):
        check_coco_dataset(str(tmp_path / 'nowhere'), ANNO, 'train',
                           'TrainDataset')


def test_missing_annotation_file_is_an_error(dataset):
    os.remove(os.path.join(dataset.dir, ANNO))
    with pytest.raises(DatasetError, match='no annotation file at .*instances_train.json'):
        dataset.check()


@pytest.mark.parametrize('content, message', [
    ('', 'is empty'),
    ('{"images": [', 'is not valid JSON'),
    ('[]', 'must hold a JSON object'),
    ('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}]}',
     'has no images'),
    ('{"images": [{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9}]}',
     "has no 'categories' list"),
])
def test_empty_or_malformed_annotation_file_is_an_error(dataset, content, message):
    with open(os.path.join(dataset.dir, ANNO), 'w') as f:
        f.write(content)
    with pytest.raises(DatasetError, match=message):
        dataset.check()


def test_unknown_category_id_is_an_error_naming_annotation_and_image(dataset):
    coco = dataset.coco()
    ann = coco['annotations'][2]
    ann['category_id'] = 99
    dataset.write(coco)
    with pytest.raises(DatasetError) as err:
        dataset.check()
    assert 'annotation id {} (image id {}) has category_id 99'.format(
        ann['id'], ann['image_id']) in str(err.value)
    # what PaddleDetection alone would do: a bare KeyError
    with pytest.raises(KeyError):
        ppdet_records(dataset.dir)


def test_missing_image_is_skipped_with_a_warning_naming_file_and_id(dataset):
    os.remove(dataset.image(3))
    report = dataset.check()
    assert len(report.skipped_images) == 1
    assert 'image id 3' in report.skipped_images[0]
    assert '000003.jpg' in report.skipped_images[0]
    assert 3 not in ppdet_records(dataset.dir)   # ppdet skips it indeed
    assert len(ppdet_records(dataset.dir)) == 5


def test_truncated_jpeg_is_an_error_naming_file_and_id(dataset):
    path = dataset.image(2)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    assert image_file_problem(path) == 'truncated JPEG (no end-of-image marker)'
    with pytest.raises(DatasetError, match=r"image id 2 \('.*000002.jpg'\): "
                       r"truncated JPEG"):
        dataset.check()
    dataset.check(check_image_files=False)  # the check can be limited


@pytest.mark.parametrize('content, message', [
    (b'', 'the file is empty'),
    (b'this is not an image at all', 'not a JPEG file'),
])
def test_corrupt_image_file_is_an_error(dataset, content, message):
    with open(dataset.image(5), 'wb') as f:
        f.write(content)
    with pytest.raises(DatasetError, match=r"image id 5 .*" + message):
        dataset.check()


def test_png_completeness(tmp_path):
    import cv2
    import numpy as np
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, np.zeros((8, 8, 3), np.uint8))
    assert image_file_problem(path) is None
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:-20])
    assert image_file_problem(path) == 'truncated PNG (no IEND chunk)'


@pytest.mark.parametrize('wh', [(0, 10), (10, 0), (-5, 10)])
def test_box_without_area_is_dropped_with_a_warning(dataset, wh):
    coco = dataset.coco()
    ann = coco['annotations'][0]
    image_id = ann['image_id']
    ann['bbox'][2:] = list(wh)
    dataset.write(coco)
    report = dataset.check()
    assert len(report.dropped_boxes) == 1
    assert 'annotation id {} of image id {}'.format(ann['id'], image_id) \
        in report.dropped_boxes[0]
    kept = [a for a in coco['annotations'] if a['image_id'] == image_id
            and a is not ann]
    records = ppdet_records(dataset.dir, allow_empty=True)
    assert len(records[image_id]['gt_bbox']) == len(kept)  # ppdet drops it


def test_boxes_outside_the_image_are_reported_and_kept(dataset):
    coco = dataset.coco()
    partly, wholly = coco['annotations'][0], coco['annotations'][1]
    partly['bbox'] = [50.0, 50.0, 30.0, 30.0]     # 64x64 image
    wholly['bbox'] = [70.0, 10.0, 10.0, 10.0]
    dataset.write(coco)
    report = dataset.check()
    text = '\n'.join(report.outside_boxes)
    assert 'annotation id {}'.format(partly['id']) in text and 'extends beyond' in text
    assert 'annotation id {}'.format(wholly['id']) in text and 'wholly outside' in text
    records = ppdet_records(dataset.dir, allow_empty=True)
    boxes = records[partly['image_id']]['gt_bbox'].tolist()
    assert [50.0, 50.0, 80.0, 80.0] in boxes     # kept as annotated


def test_images_without_boxes_and_all_crowd_images(dataset):
    coco = dataset.coco()
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] != 1]
    for ann in coco['annotations']:
        if ann['image_id'] == 2:
            ann['iscrowd'] = 1
    dataset.write(coco)
    report = dataset.check()
    assert report.images_without_boxes == [1, 2]
    assert report.warnings() == []
    train = ppdet_records(dataset.dir)
    assert 1 not in train and 2 not in train           # left out of training
    kept = ppdet_records(dataset.dir, allow_empty=True)
    assert len(kept[1]['gt_bbox']) == 0 and len(kept[2]['gt_bbox']) == 0
    crowd = ppdet_records(dataset.dir, load_crowd=True)
    assert crowd[2]['is_crowd'].all()                    # ignore regions


@pytest.mark.parametrize('bbox', [[1, 2, float('inf'), 4], [1, 2, 3],
                                  [1, 'a', 3, 4], None])
def test_bbox_that_is_not_four_finite_numbers_is_an_error(dataset, bbox):
    coco = dataset.coco()
    ann = coco['annotations'][1]
    ann['bbox'] = bbox
    dataset.write(coco)   # json writes inf as Infinity, which json reads back
    with pytest.raises(DatasetError, match='annotation id {} .*finite numbers'
                       .format(ann['id'])):
        dataset.check()


# -- defects that used to crash in ppdet or pass silently ------------------------

@pytest.mark.parametrize('field, message', [
    ('area', "have no 'area', first annotation id"),
    ('iscrowd', "have no 'iscrowd', first annotation id"),
    ('id', "have no 'id', first annotation id None"),
])
def test_annotation_without_area_iscrowd_or_id_is_an_error(dataset, field, message):
    coco = dataset.coco()
    for ann in coco['annotations'][1:3]:
        del ann[field]
    dataset.write(coco)
    with pytest.raises(DatasetError, match=r"instances_train\.json: 2 annotation\(s\) "
                       + message):
        dataset.check()


def test_two_images_with_one_id_are_an_error_naming_both_files(dataset):
    coco = dataset.coco()
    coco['images'][1]['id'] = coco['images'][0]['id']
    dataset.write(coco)
    with pytest.raises(DatasetError, match=r"two images have id 1: '000001\.jpg' "
                                           r"and '000002\.jpg'"):
        dataset.check()


def test_one_file_under_two_ids_is_an_error(dataset):
    coco = dataset.coco()
    coco['images'][1]['file_name'] = './' + coco['images'][0]['file_name']
    dataset.write(coco)
    with pytest.raises(DatasetError, match=r"the file '\./000001\.jpg' is listed "
                                           r"twice, as image ids 1 and 2"):
        dataset.check()


def test_duplicate_annotation_or_category_ids_are_errors(dataset):
    coco = dataset.coco()
    coco['annotations'][1]['id'] = coco['annotations'][0]['id']
    dataset.write(coco)
    with pytest.raises(DatasetError, match=r"two annotations have id 1 .*keep one"):
        dataset.check()
    coco = dataset.coco()
    coco['annotations'][1]['id'] = 999
    coco['categories'][1]['id'] = coco['categories'][0]['id']
    dataset.write(coco)
    with pytest.raises(DatasetError, match=r"category id 1 appears twice"):
        dataset.check()


def test_image_size_that_disagrees_with_the_file_is_an_error(dataset):
    coco = dataset.coco()
    coco['images'][2]['width'] = 128
    dataset.write(coco)
    with pytest.raises(DatasetError, match=r"image id 3 \('.*000003\.jpg'\) is "
                                           r"64x64 in the file but 128x64 in the "
                                           r"annotations"):
        dataset.check()


def _jpeg_with_exif_rotation(path, width, height):
    from PIL import Image
    image = Image.new('RGB', (width, height), (90, 120, 150))
    exif = image.getexif()
    exif[0x0112] = 6                       # rotate 90: shown height x width
    image.save(path, exif=exif)


def test_exif_rotated_image_is_checked_at_the_size_opencv_decodes(dataset):
    # ppdet decodes with OpenCV, which applies the EXIF orientation: the json
    # of such a file holds the turned size, which must not be refused
    import cv2
    path = dataset.image(1)
    _jpeg_with_exif_rotation(path, 64, 48)
    assert cv2.imread(path).shape[:2] == (64, 48)      # turned: 48 wide
    coco = dataset.coco()
    coco['images'][0].update(width=48, height=64)
    dataset.write(coco)
    dataset.check()


def test_jpeg_whose_scan_is_cut_short_is_an_error(dataset):
    # it still ends with an end-of-image marker: only a full decode finds it,
    # where libjpeg says "Corrupt JPEG data" and fills the rest with grey
    path = dataset.image(2)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] + b'\xff\xd9')
    assert image_file_problem(path) is None
    with pytest.raises(DatasetError, match=r"image id 2 \('.*000002\.jpg'\): corrupt "
                                           r"JPEG data, the decoder reports: .*premature"):
        dataset.check()


def test_clean_decodes_are_remembered_and_a_changed_file_is_checked_again(dataset):
    dataset.check()
    path = dataset.image(4)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:           # new size and time: decoded again
        f.write(data[:len(data) // 2] + b'\xff\xd9')
    with pytest.raises(DatasetError, match='corrupt JPEG data'):
        dataset.check()


def test_a_file_that_is_no_image_under_an_unknown_extension_is_an_error(dataset):
    coco = dataset.coco()
    coco['images'][0]['file_name'] = 'notes.txt'
    dataset.write(coco)
    with open(os.path.join(dataset.dir, 'train', 'notes.txt'), 'w') as f:
        f.write('not an image')
    with pytest.raises(DatasetError, match=r"notes\.txt'\): the file does not "
                                           r"decode as an image"):
        dataset.check()


def test_a_pipeline_failure_names_the_image_of_the_failing_sample():
    import numpy as np

    from ppdet_ghm.data import DataPipelineError, describe_pipeline_failure

    class Dataset:
        roidbs = [{'im_file': 'a.jpg', 'im_id': np.array([7])},
                  {'im_file': 'b.jpg', 'im_id': np.array([8])}]

        def __getitem__(self, index):
            if index == 1:
                raise AttributeError("'bytes' object has no attribute 'shape'")
            return {}

    err = describe_pipeline_failure(Dataset(), [0, 1], KeyError('first report'))
    assert isinstance(err, DataPipelineError)
    assert str(err) == ("reading image 'b.jpg' (id 8) failed in the data pipeline: "
                        "AttributeError: 'bytes' object has no attribute 'shape'")
