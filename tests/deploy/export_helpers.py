"""Shared by the deploy tests: a tiny config to export, the export tool,
tools/infer.py's dygraph detections and the comparison of two runs'
detections."""
import glob
import os
import subprocess
import sys

import numpy as np
from tiny_demo import ROOT, write_tiny_config

from ppdet_ghm.deploy.compare import compare_detections

SCORE_TOL, BOX_TOL = 1e-5, 1e-3


def tiny_export_config(tmp, data, name, extra='GHMRetinaPostProcess: {max_per_img: 1000}\n',
            image_shape='[3, -1, -1]'):
    """The tiny demo config, every detection kept (no top-100 cut among
    near-equal scores), images of any size (as the COCO configs)."""
    return write_tiny_config(os.path.join(tmp, name + '.yml'), data,
                             os.path.join(tmp, 'out'), extra="""\
weights: {out}/tiny/model_final
TestReader: {{inputs_def: {{image_shape: {shape}}}, batch_size: 2}}
""".format(out=os.path.join(tmp, 'out'), shape=image_shape) + extra)


def save_spread_logit_model(config, tmp, logit_scale):
    """Save the config's seeded random model as ``tmp/out/tiny/model_final``
    (the tiny config's weights), its class-logit weights multiplied by
    ``logit_scale`` and biases zeroed: random weights whose scores spread
    instead of all being about 0.01, where a float-level difference would
    reorder near-equal scores and change what NMS keeps."""
    import paddle
    from conftest import workspace_snapshot

    from ppdet_ghm.engine import create_model, load_config
    with workspace_snapshot():     # module fixtures use it: before the test's own
        paddle.seed(0)
        model = create_model(load_config(config))
        head = model.head
        head.retina_cls.weight.set_value(head.retina_cls.weight * logit_scale)
        head.retina_cls.bias.set_value(paddle.zeros_like(head.retina_cls.bias))
        os.makedirs(os.path.join(tmp, 'out', 'tiny'))
        paddle.save(model.state_dict(), os.path.join(tmp, 'out', 'tiny',
                                                     'model_final.pdparams'))


def export(config, out, *flags):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'export_model.py'), '-c', config,
         '--output_dir', out, *flags], cwd=ROOT, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return os.path.join(out, os.path.splitext(os.path.basename(config))[0])

def dygraph_detections(config, images):
    """tools/infer.py's detections (ppdet's Trainer.predict), per image."""
    from ppdet_ghm.engine import create_trainer_with_weights, load_config
    trainer = create_trainer_with_weights(load_config(config), 'test')
    per_image = []
    for result in trainer.predict(images, output_dir=os.path.dirname(config),
                                  visualize=False):
        first = 0
        for count in np.asarray(result['bbox_num']).reshape(-1).tolist():
            per_image.append(np.asarray(result['bbox'])[first:first + count])
            first += count
    return per_image


def assert_same(dygraph, deployed):
    """Per image: the same number of detections, and each deployed one has a
    dygraph one of the same class within BOX_TOL px and SCORE_TOL
    (ppdet_ghm.deploy.compare pairs them by nearest box within the class)."""
    agreement = compare_detections(
        [(rows[:, 0], rows[:, 1], rows[:, 2:6]) for rows in dygraph], deployed,
        SCORE_TOL, BOX_TOL)
    assert agreement.images == len(deployed) and not agreement.problems, \
        agreement.problems[:5]


def val_images(data):
    return sorted(glob.glob(os.path.join(data, 'val', '*.jpg')))

