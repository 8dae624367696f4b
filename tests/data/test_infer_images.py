"""ppdet_ghm.data.infer_images: the images tools/infer.py runs on are
checked first, so that a file that does not decode is named instead of
killing ppdet's reader thread (which left the main process waiting)."""
import os
import shutil

import pytest

from ppdet_ghm.data import DatasetError
from ppdet_ghm.data.infer_images import list_infer_images


def test_images_of_a_folder_sorted_by_name(tiny_data):
    images = list_infer_images(infer_dir=os.path.join(tiny_data, 'val'))
    assert [os.path.basename(p) for p in images] == sorted(
        os.listdir(os.path.join(tiny_data, 'val')))


@pytest.mark.parametrize('name, content, message', [
    ('notes.txt', b'just text', 'does not decode as an image'),
    ('photo.jpg', b'just text', 'not a JPEG file'),
    ('empty.png', b'', 'the file is empty'),
])
def test_a_file_that_is_no_image_is_refused_naming_it(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="--infer_img: '{}': .*{}".format(
            path, message)):
        list_infer_images(infer_img=str(path))


def test_one_bad_image_in_a_folder_is_named(tmp_path, tiny_data):
    folder = shutil.copytree(os.path.join(tiny_data, 'val'), str(tmp_path / 'imgs'))
    bad = os.path.join(folder, sorted(os.listdir(folder))[1])
    with open(bad, 'rb') as f:
        data = f.read()
    with open(bad, 'wb') as f:
        f.write(data[:len(data) // 2] + b'\xff\xd9')
    with pytest.raises(DatasetError, match="--infer_dir: '{}': corrupt JPEG".format(bad)):
        list_infer_images(infer_dir=folder)


@pytest.mark.parametrize('kwargs, message', [
    ({}, 'give --infer_img FILE or --infer_dir DIR'),
    ({'infer_img': '/no/such.jpg'}, "--infer_img: no file at '/no/such.jpg'"),
    ({'infer_dir': '/no/such'}, "--infer_dir: no directory at '/no/such'"),
])
def test_missing_inputs_are_named(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        list_infer_images(**kwargs)


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(DatasetError, match='no .jpg/.jpeg/.png/.bmp images'):
        list_infer_images(infer_dir=str(tmp_path))


def test_messages_use_the_callers_option_names(tmp_path):
    with pytest.raises(DatasetError, match="^--image_dir: no directory at '/no/such'$"):
        list_infer_images(infer_dir='/no/such', flags=('--image_file', '--image_dir'))
