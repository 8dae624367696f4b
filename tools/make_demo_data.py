"""Write the deterministic demo dataset (COCO format) used by the demo configs.

    python tools/make_demo_data.py --output_dir dataset/ghm_demo \
        [--num_train 3200 --num_val 500 --image_size 128 --seed 0] [--force]

Does nothing when ``output_dir`` already holds the dataset made with the same
parameters (see ``annotations/demo_dataset.json``); ``--force`` regenerates.
"""
import importlib.util
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
MODULE = os.path.join(ROOT, 'ppdet_ghm', 'data', 'demo_dataset.py')


def _load_generator():
    """Load ``ppdet_ghm/data/demo_dataset.py`` on its own: it needs only
    numpy and OpenCV, while importing the ``ppdet_ghm`` package would also
    import paddle and ppdet (several seconds)."""
    spec = importlib.util.spec_from_file_location('ppdet_ghm_demo_dataset',
                                                  MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == '__main__':
    sys.exit(_load_generator().main())
