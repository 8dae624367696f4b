"""Write the deterministic demo dataset (COCO format) used by the demo configs.

    python tools/make_demo_data.py --output_dir dataset/ghm_demo \
        [--num_train 3200 --num_val 500 --image_size 128 --seed 0] [--force]

Does nothing when ``output_dir`` already holds the dataset made with the same
parameters (see ``annotations/demo_dataset.json``); ``--force`` regenerates.
"""
import sys

from ppdet_ghm.data.demo_dataset import main  # numpy + OpenCV only: no paddle

if __name__ == '__main__':
    sys.exit(main())
