"""The images ``tools/infer.py`` runs on, checked before ppdet reads them.

A file that does not decode, or a JPEG whose scan is cut short (which the
decoder fills with grey without failing), is refused before PaddleDetection
reads it, naming the file.  (A sample failing later in the reader thread is
raised in the main process by ``compat.reader_errors_propagated``; this check
gives the clearer message and catches what decodes silently.)
"""
import glob
import os

from .checks import DatasetError, image_problem

__all__ = ['IMAGE_EXTS', 'list_infer_images']

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def list_infer_images(infer_img=None, infer_dir=None,
                      flags=('--infer_img', '--infer_dir')):
    """``[infer_img]``, or the images in ``infer_dir`` (by extension,
    sorted), each checked to decode cleanly; ``flags`` are the option names
    the messages use.

    Raises:
        DatasetError: neither given, a missing file or folder, a folder
            without images, or a file that is not a complete image (named).
    """
    if infer_img:
        if not os.path.isfile(infer_img):
            raise DatasetError("{}: no file at '{}'".format(flags[0], infer_img))
        images, flag = [infer_img], flags[0]
    else:
        flag = flags[1]
        if not infer_dir:
            raise DatasetError('give {} FILE or {} DIR'.format(*flags))
        if not os.path.isdir(infer_dir):
            raise DatasetError("{}: no directory at '{}'".format(flag, infer_dir))
        images = sorted(p for p in glob.glob(os.path.join(infer_dir, '*'))
                        if p.lower().endswith(IMAGE_EXTS))
        if not images:
            raise DatasetError("{}: no {} images in '{}'".format(
                flag, '/'.join(IMAGE_EXTS), infer_dir))
    for path in images:
        problem = image_problem(path)
        if problem:
            raise DatasetError("{}: '{}': {}".format(flag, path, problem))
    return images
