"""Train a detector (PaddleDetection's trainer, ppdet_ghm's modules).

    python tools/train.py -c configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml --eval
    python -m paddle.distributed.launch --gpus 0,1,2,3 tools/train.py -c CONFIG --eval
    python -m paddle.distributed.launch --nproc_per_node 2 tools/train.py -c CONFIG  # CPU

Options: ``--seed N`` (initialisation, augmentation, data order), ``-r``
resume, ``--amp``, ``--fleet``; see ``ppdet_ghm.engine.train_cli``.
"""
import _common  # noqa: F401  (a one-line error when the project is not installed)

from ppdet_ghm.engine.train_cli import main

if __name__ == '__main__':
    main()
