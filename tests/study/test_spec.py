"""Study files (ppdet_ghm.study.spec): what they say, and one-line errors
naming the key or path for what is wrong."""
import os

import pytest
import yaml

from ppdet_ghm.study import Run, StudyError, load_study, parse_study
from tiny_demo import DEMO_CONFIG


def _raw(tmp_path, **changes):
    data_dir = tmp_path / 'data'
    data_dir.mkdir(exist_ok=True)
    raw = {'base_config': DEMO_CONFIG,
           'dataset': {'dataset_dir': str(data_dir)},
           'schedule': {'epochs': 2, 'snapshot_epoch': 1, 'processes': 2},
           'seeds': [0, 1],
           'variants': {'fl': {'label': 'FL', 'options': {
               'GHMRetinaHead.loss_class': 'FocalLoss', 'GHMCLoss': {'bins': 30}}},
               'ghm': None},
           'baseline': 'fl'}
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def test_a_study_file_is_read_with_its_defaults(tmp_path):
    path = tmp_path / 'my_study.yml'
    path.write_text(yaml.safe_dump(_raw(tmp_path)))
    study = load_study(str(path))
    assert study.name == 'my_study' and study.epochs == 2
    assert study.snapshot_epoch == 1 and study.processes == 2
    assert study.train == {'image_dir': 'train',
                           'anno_path': 'annotations/instances_train.json'}
    assert study.variants['ghm'] == {'label': 'ghm', 'options': {}}
    # dotted keys nest, nested mappings merge
    assert study.variants['fl']['options'] == {
        'GHMRetinaHead': {'loss_class': 'FocalLoss'}, 'GHMCLoss': {'bins': 30}}
    assert study.demo is None and study.noise == {}


def test_runs_go_seed_by_seed_over_noise_levels_and_variants(tmp_path):
    study = parse_study(_raw(tmp_path, noise={'clean': {}, 'm': {'missing': 0.5}}))
    assert [r.name for r in study.runs()] == [
        'fl@clean/seed0', 'ghm@clean/seed0', 'fl@m/seed0', 'ghm@m/seed0',
        'fl@clean/seed1', 'ghm@clean/seed1', 'fl@m/seed1', 'ghm@m/seed1']
    assert study.reference_noise == 'clean'     # the level without noise
    assert study.label('fl@m') == 'FL @ m'
    assert Run('a', '', 3).directory('out') == os.path.join('out', 'runs', 'a', 'seed3')


def test_study_options_come_first_and_variant_options_win(tmp_path):
    study = parse_study(_raw(tmp_path, options={'GHMCLoss': {'bins': 10, 'momentum': 0.5},
                                                'epoch_note': 1}))
    assert study.run_options(Run('fl', '', 0)) == {
        'GHMCLoss': {'bins': 30, 'momentum': 0.5}, 'epoch_note': 1,
        'GHMRetinaHead': {'loss_class': 'FocalLoss'}}


@pytest.mark.parametrize('changes, message', [
    ({'variantz': {}}, "unknown key 'variantz'"),
    ({'seeds': None}, "missing key 'seeds'"),
    ({'base_config': 'nowhere.yml'}, "base_config: no config file at 'nowhere.yml'"),
    ({'seeds': []}, 'seeds: expected a non-empty list of integers'),
    ({'seeds': [0, 0]}, 'seeds: a seed is listed twice'),
    ({'seeds': [0, -1]}, 'seeds: expected an integer >= 0, got -1'),
    ({'baseline': 'ce'}, "baseline: 'ce' is not a variant (variants: fl, ghm)"),
    ({'schedule': {'epochs': 0}}, 'schedule.epochs: expected an integer >= 1, got 0'),
    ({'schedule': {'epochs': 2, 'snapshot_epoch': 3}}, 'schedule.snapshot_epoch: 3 is more than schedule.epochs 2'),
    ({'schedule': {'epochs': 2, 'procs': 2}}, "schedule: unknown key 'procs'"),
    ({'variants': {'a b': {}}}, "variants.a b: expected a name"),
    ({'variants': {'fl': {'option': {}}}}, "variants.fl: unknown key 'option'"),
    ({'variants': {}}, 'variants: expected at least one variant'),
    ({'noise': {'m': {'missing': 2}}}, 'noise.m.missing: expected a fraction in [0, 1], got 2'),
    ({'noise': {'m': {'missing': 0.5}}, 'reference_noise': 'clean'},
     "reference_noise: 'clean' is not a noise level (levels: m)"),
    ({'reference_noise': 'clean'}, 'reference_noise: given without noise levels'),
    ({'dataset': {'dataset_dir': '/no/such/dir'}},
     "dataset.dataset_dir: no folder at '/no/such/dir' (set dataset.demo: true"),
    ({'dataset': {'dataset_dir': '.', 'train': {'anno': 'x'}}},
     "dataset.train: unknown key 'anno'"),
    ({'dataset': {'dataset_dir': '.', 'demo': {'num_images': 3}}},
     "dataset.demo: unknown key 'num_images'"),
])
def test_bad_study_files_are_named(tmp_path, changes, message):
    with pytest.raises(StudyError) as info:
        parse_study(_raw(tmp_path, **changes), 'st.yml')
    assert str(info.value).startswith('st.yml: ')
    assert message in str(info.value)
    assert '\n' not in str(info.value)


def test_unreadable_and_invalid_files_are_named(tmp_path):
    with pytest.raises(StudyError, match="nope.yml: cannot read the study file"):
        load_study(str(tmp_path / 'nope.yml'))
    bad = tmp_path / 'bad.yml'
    bad.write_text('variants: [unclosed\n')
    with pytest.raises(StudyError, match='bad.yml: not valid YAML'):
        load_study(str(bad))
    bad.write_text('- a list\n')
    with pytest.raises(StudyError, match='bad.yml: expected a mapping'):
        load_study(str(bad))


@pytest.mark.parametrize('name', ['paper_ablations', 'annotation_noise',
                                  'full_schedule'])
def test_the_shipped_studies_parse(name, monkeypatch):
    root = os.path.dirname(os.path.dirname(DEMO_CONFIG))
    monkeypatch.chdir(os.path.dirname(root))
    study = load_study(os.path.join('configs', 'studies', name + '.yml'))
    assert study.name == name and len(study.seeds) >= 3
    assert study.demo == {} and study.processes == 2


def test_without_a_clean_level_there_is_no_reference_unless_named(tmp_path):
    levels = {'m25': {'missing': 0.25}, 'm50': {'missing': 0.5}}
    assert parse_study(_raw(tmp_path, noise=levels)).reference_noise == ''
    assert parse_study(_raw(tmp_path, noise=levels,
                            reference_noise='m25')).reference_noise == 'm25'
