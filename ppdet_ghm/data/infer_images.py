"""The images ``tools/infer.py`` runs on, checked before ppdet reads them.

PaddleDetection decodes inference images in a reader thread; a file that
does not decode kills that thread and the main process waits for a batch
that never comes.  :func:`list_infer_images` refuses such a file first,
naming it.
"""
import glob
import os

from .checks import DatasetError, image_decode_problem, image_file_problem

__all__ = ['IMAGE_EXTS', 'list_infer_images']

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def list_infer_images(infer_img=None, infer_dir=None):
    """``[infer_img]``, or the images in ``infer_dir`` (by extension,
    sorted), each checked to decode cleanly.

    Raises:
        DatasetError: neither given, a missing file or folder, a folder
            without images, or a file that is not a complete image (named).
    """
    if infer_img:
        if not os.path.isfile(infer_img):
            raise DatasetError("--infer_img: no file at '{}'".format(infer_img))
        images, flag = [infer_img], '--infer_img'
    else:
        if not infer_dir:
            raise DatasetError('give --infer_img FILE or --infer_dir DIR')
        if not os.path.isdir(infer_dir):
            raise DatasetError("--infer_dir: no directory at '{}'".format(
                infer_dir))
        images = sorted(p for p in glob.glob(os.path.join(infer_dir, '*'))
                        if p.lower().endswith(IMAGE_EXTS))
        if not images:
            raise DatasetError("--infer_dir: no {} images in '{}'".format(
                '/'.join(IMAGE_EXTS), infer_dir))
        flag = '--infer_dir'
    for path in images:
        problem = image_file_problem(path) or image_decode_problem(path)
        if problem:
            raise DatasetError("{}: '{}': {}".format(flag, path, problem))
    return images
