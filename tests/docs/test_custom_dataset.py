"""docs/custom_dataset.md: its CPU command blocks, run exactly as written in
a scratch folder (``tools/`` and ``configs/`` of this checkout, a generated
4-class dataset at the documented place, class names that are not the
demo's), for the COCO and the VOC format."""
import json
import os
import shlex
import subprocess
import sys

import pytest
import yaml
from tiny_demo import CUSTOM_CLASSES, write_custom_coco, write_custom_voc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
GUIDE = os.path.join(ROOT, 'docs', 'custom_dataset.md')


def guide_commands(title):
    """The lines of the guide's ```bash block whose first line is ``# title``."""
    with open(GUIDE) as f:
        blocks = f.read().split('```bash\n')[1:]
    for block in blocks:
        lines = block.split('```')[0].strip().splitlines()
        if lines[0] == '# ' + title:
            return [line for line in lines[1:] if line.strip()]
    raise AssertionError('no block "# {}" in {}'.format(title, GUIDE))


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    """A working folder laid out as the repository root, with the guide's
    datasets in place."""
    root = tmp_path_factory.mktemp('custom')
    for name in ('tools', 'configs'):
        os.symlink(os.path.join(ROOT, name), str(root / name))
    coco = write_custom_coco(root / 'dataset' / 'my_coco', num_train=24, num_val=6)
    write_custom_voc(root / 'dataset' / 'my_voc', coco)
    return root


def run_guide(scratch, title):
    for line in guide_commands(title):
        argv = shlex.split(line)
        assert argv[0] == 'python', line
        proc = subprocess.run([sys.executable] + argv[1:], cwd=str(scratch),
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, '{}\n{}'.format(line, (proc.stdout + proc.stderr)[-3000:])
        yield argv, proc.stdout + proc.stderr


@pytest.mark.parametrize('fmt, images', [('coco', 'dataset/my_coco/val'),
                                         ('voc', 'dataset/my_voc/JPEGImages')])
def test_the_guides_commands_train_evaluate_infer_and_export(scratch, fmt, images):
    name = 'retinanet_ghm_small_custom_' + fmt
    outputs = dict((argv[1].split('/')[-1], out) for argv, out in
                   run_guide(scratch, 'custom dataset, {} format, CPU'.format(fmt.upper())))
    assert sorted(outputs) == ['deploy_infer.py', 'eval.py', 'export_model.py',
                               'infer.py', 'train.py']
    with open(str(scratch / 'output' / name / 'eval_records.jsonl')) as f:
        records = [json.loads(line) for line in f]
    assert [r['epoch'] for r in records] == [2, 4, 6, 8]   # snapshot_epoch 2
    assert set(records[-1]['bbox']) == ({'mAP'} if fmt == 'voc' else {
        'AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large', 'AR1', 'AR10',
        'AR100', 'AR_small', 'AR_medium', 'AR_large'})
    assert ('mAP(0.50, 11point)' if fmt == 'voc' else 'Average Precision') \
        in outputs['eval.py']
    drawn = os.listdir(str(scratch / 'output' / 'my_{}_infer'.format(fmt)))
    assert len([f for f in drawn if f.endswith('.jpg')]) == len(
        [f for f in os.listdir(str(scratch / images)) if f.endswith('.jpg')])
    with open(str(scratch / 'output_inference' / name / 'infer_cfg.yml')) as f:
        assert yaml.safe_load(f)['label_list'] == CUSTOM_CLASSES
    assert os.listdir(str(scratch / 'output' / 'my_{}_deploy'.format(fmt)))


def test_the_r50_configs_read_the_custom_datasets():
    from ppdet_ghm.engine import load_config
    for fmt, dataset in (('coco', 'COCODataSet'), ('voc', 'VOCDataSet')):
        cfg = load_config(os.path.join(
            ROOT, 'configs', 'custom', 'retinanet_ghm_r50_fpn_custom_{}.yml'.format(fmt)))
        assert cfg.num_classes == 4 and cfg['TrainDataset']['name'] == dataset
        assert cfg['TrainDataset']['dataset_dir'] == 'dataset/my_' + fmt
        assert cfg['LearningRate']['base_lr'] == 0.005 and cfg.epoch == 12
        assert cfg.metric == fmt.upper()
