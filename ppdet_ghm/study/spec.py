"""A study file: which config, data, variants, seeds and schedule to compare.

A study file is YAML (relative paths are relative to the current directory,
as in PaddleDetection configs)::

    name: paper_ablations                  # default: the file's name
    base_config: configs/demo/retinanet_ghm_demo.yml
    dataset:
      dataset_dir: dataset/ghm_demo
      demo: true                           # write the demo data there if missing
      train: {image_dir: train, anno_path: annotations/instances_train.json}
      val: {image_dir: val, anno_path: annotations/instances_val.json}
    schedule: {epochs: 4, snapshot_epoch: 1, processes: 2}
    seeds: [0, 1, 2]
    options: {}                            # config overrides for every variant
    variants:
      fl_sl1:
        label: FocalLoss + SmoothL1
        options:
          GHMRetinaHead: {loss_class: FocalLoss, loss_bbox: SmoothL1Loss}
      ghm: {label: GHM-C + GHM-R}          # the base config as it is
    baseline: fl_sl1
    noise:                                 # optional: every variant at every level
      clean: {}
      missing50: {missing: 0.5}
    reference_noise: clean                 # drops are measured from this level
                                           # (default: the level without noise)

``dataset.train``/``val`` default to the demo layout; ``demo`` may also be
a mapping of the generator's parameters (``num_train``, ``num_val``,
``image_size``, ``seed``).  Options are nested mappings (or dotted keys,
``GHMCLoss.bins: 30``) merged over the base config as a child yml would.
Every problem is a :class:`StudyError` naming the file and the key.
"""
import copy
import numbers
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import yaml

from ..data.noise import NoiseError, check_noise

__all__ = ['StudyError', 'Study', 'Run', 'load_study', 'parse_study']

_KEYS = ('name', 'base_config', 'dataset', 'schedule', 'seeds', 'options',
         'variants', 'baseline', 'noise', 'reference_noise')
_DATASET_KEYS = ('dataset_dir', 'demo', 'train', 'val')
_SPLIT_KEYS = ('image_dir', 'anno_path')
_SCHEDULE_KEYS = ('epochs', 'snapshot_epoch', 'processes')
_VARIANT_KEYS = ('label', 'options')
_DEMO_KEYS = ('num_train', 'num_val', 'image_size', 'seed')
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]*$')
DEMO_SPLITS = {'train': {'image_dir': 'train',
                         'anno_path': 'annotations/instances_train.json'},
               'val': {'image_dir': 'val',
                       'anno_path': 'annotations/instances_val.json'}}


class StudyError(ValueError):
    """A study that cannot run: bad study file, missing dataset, a failed
    preparation step; the message names the file, key or path."""


@dataclass(frozen=True)
class Run:
    """One training of a study: a variant at a noise level with a seed."""
    variant: str
    noise: str          # the noise level's name; '' without noise levels
    seed: int

    @property
    def key(self):
        """``variant``, ``variant@noise``: the row of the results table."""
        return '{}@{}'.format(self.variant, self.noise) if self.noise \
            else self.variant

    @property
    def name(self):
        """``key/seedN``: unique in the study."""
        return '{}/seed{}'.format(self.key, self.seed)

    def directory(self, output_dir):
        return os.path.join(output_dir, 'runs', self.key.replace('@', '_at_'),
                            'seed{}'.format(self.seed))


@dataclass
class Study:
    """A parsed study file (:func:`load_study`)."""
    name: str
    path: str
    base_config: str
    dataset_dir: str
    demo: dict          # generator parameters, or None: the data exists
    train: dict         # {'image_dir', 'anno_path'}
    val: dict
    epochs: int
    snapshot_epoch: int
    processes: int
    seeds: list
    options: dict
    variants: 'OrderedDict'          # name -> {'label', 'options'}
    baseline: str
    noise: 'OrderedDict' = field(default_factory=OrderedDict)  # name -> noise
    reference_noise: str = ''

    def runs(self):
        """Every run, seed by seed: after each seed, every variant and noise
        level has the same number of runs, so a study stopped early still
        compares like with like."""
        levels = list(self.noise) or ['']
        return [Run(variant, level, seed) for seed in self.seeds
                for level in levels for variant in self.variants]

    def label(self, key):
        """The display label of a results row (``variant`` or
        ``variant@noise``)."""
        variant, _, level = key.partition('@')
        label = self.variants[variant]['label']
        return '{} @ {}'.format(label, level) if level else label

    def run_options(self, run):
        """The config overrides of ``run``: the study's options, then its
        variant's (nested dicts)."""
        options = copy.deepcopy(self.options)
        _deep_update(options, self.variants[run.variant]['options'])
        return options


def _deep_update(target, source):
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _fail(where, message):
    raise StudyError('{}: {}'.format(where, message))


def _mapping(value, where, keys=None, required=()):
    if not isinstance(value, dict):
        _fail(where, 'expected a mapping, got {!r}'.format(value))
    if keys is not None:
        for key in value:
            if key not in keys:
                _fail(where, 'unknown key {!r} (expected one of: {})'.format(
                    key, ', '.join(keys)))
    for key in required:
        if value.get(key) is None:
            _fail(where, 'missing key {!r}'.format(key))
    return value


def _int(value, where, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        _fail(where, 'expected an integer >= {}, got {!r}'.format(
            minimum, value))
    return int(value)


def _name(value, where):
    if not isinstance(value, str) or not _NAME.match(value):
        _fail(where, 'expected a name of letters, digits, _ . + - , got '
              '{!r}'.format(value))
    return value


def _options(value, where):
    """Config overrides as nested dicts (dotted keys expanded)."""
    if value is None:
        return {}
    _mapping(value, where)
    nested = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or '..' in key \
                or key.startswith('.') or key.endswith('.'):
            _fail(where, 'bad option key {!r}'.format(key))
        *parents, last = key.split('.')
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                _fail(where, 'option {!r} sets a key inside a value'.format(
                    key))
        if isinstance(item, dict) and isinstance(node.get(last), dict):
            _deep_update(node[last], item)
        else:
            node[last] = copy.deepcopy(item)
    return nested


def _split(value, default, where):
    split = dict(default)
    if value is not None:
        split.update(_mapping(value, where, _SPLIT_KEYS))
    for key in _SPLIT_KEYS:
        if not isinstance(split[key], str) or not split[key]:
            _fail('{}.{}'.format(where, key), 'expected a path, got '
                  '{!r}'.format(split[key]))
    return split


def parse_study(raw, path='study'):
    """A :class:`Study` from the mapping ``raw`` (a loaded study file);
    ``path`` names it in errors and gives the default name."""
    where = path
    _mapping(raw, where, _KEYS, required=('base_config', 'dataset', 'seeds',
                                          'variants', 'baseline'))
    name = _name(raw.get('name') or os.path.splitext(
        os.path.basename(path))[0], '{}: name'.format(where))
    base_config = raw['base_config']
    if not isinstance(base_config, str) or not os.path.isfile(base_config):
        _fail('{}: base_config'.format(where), "no config file at {!r}".format(
            base_config))

    dataset = _mapping(raw['dataset'], '{}: dataset'.format(where),
                       _DATASET_KEYS, required=('dataset_dir',))
    if not isinstance(dataset['dataset_dir'], str):
        _fail('{}: dataset.dataset_dir'.format(where), 'expected a path, got '
              '{!r}'.format(dataset['dataset_dir']))
    demo = dataset.get('demo', False)
    if demo is True:
        demo = {}
    elif demo is False or demo is None:
        demo = None
    else:
        demo = dict(_mapping(demo, '{}: dataset.demo'.format(where),
                             _DEMO_KEYS))
    if demo is None and not os.path.isdir(dataset['dataset_dir']):
        _fail('{}: dataset.dataset_dir'.format(where), "no folder at {!r} "
              "(set dataset.demo: true to write the demo data there)".format(
                  dataset['dataset_dir']))
    train = _split(dataset.get('train'), DEMO_SPLITS['train'],
                   '{}: dataset.train'.format(where))
    val = _split(dataset.get('val'), DEMO_SPLITS['val'],
                 '{}: dataset.val'.format(where))

    schedule = _mapping(raw.get('schedule') or {}, '{}: schedule'.format(
        where), _SCHEDULE_KEYS, required=('epochs',))
    epochs = _int(schedule['epochs'], '{}: schedule.epochs'.format(where), 1)
    snapshot = _int(schedule.get('snapshot_epoch', epochs),
                    '{}: schedule.snapshot_epoch'.format(where), 1)
    if snapshot > epochs:
        _fail('{}: schedule.snapshot_epoch'.format(where), '{} is more than '
              'schedule.epochs {}'.format(snapshot, epochs))
    processes = _int(schedule.get('processes', 1),
                     '{}: schedule.processes'.format(where), 1)

    seeds = raw['seeds']
    if not isinstance(seeds, list) or not seeds:
        _fail('{}: seeds'.format(where), 'expected a non-empty list of '
              'integers, got {!r}'.format(seeds))
    seeds = [_int(s, '{}: seeds'.format(where), 0) for s in seeds]
    if len(set(seeds)) != len(seeds):
        _fail('{}: seeds'.format(where), 'a seed is listed twice: {}'.format(
            seeds))

    variants = OrderedDict()
    _mapping(raw['variants'], '{}: variants'.format(where))
    if not raw['variants']:
        _fail('{}: variants'.format(where), 'expected at least one variant')
    for key, variant in raw['variants'].items():
        vwhere = '{}: variants.{}'.format(where, key)
        _name(key, vwhere)
        variant = _mapping(variant or {}, vwhere, _VARIANT_KEYS)
        label = variant.get('label', key)
        if not isinstance(label, str):
            _fail(vwhere + '.label', 'expected text, got {!r}'.format(label))
        variants[key] = {'label': label, 'options': _options(
            variant.get('options'), vwhere + '.options')}
    baseline = raw['baseline']
    if baseline not in variants:
        _fail('{}: baseline'.format(where), '{!r} is not a variant (variants: '
              '{})'.format(baseline, ', '.join(variants)))

    noise = OrderedDict()
    if raw.get('noise') is not None:
        _mapping(raw['noise'], '{}: noise'.format(where))
        for level, setting in raw['noise'].items():
            lwhere = '{}: noise.{}'.format(where, level)
            _name(level, lwhere)
            try:
                noise[level] = check_noise(setting, lwhere)
            except NoiseError as err:
                raise StudyError(str(err)) from err
        if not noise:
            _fail('{}: noise'.format(where), 'expected at least one level')
    reference = raw.get('reference_noise')
    if noise:
        if reference is None:   # the clean level, if any; else no drops
            clean = [k for k, v in noise.items() if not any(v.values())]
            reference = clean[0] if clean else ''
        elif reference not in noise:
            _fail('{}: reference_noise'.format(where), '{!r} is not a noise '
                  'level (levels: {})'.format(reference, ', '.join(noise)))
    elif reference is not None:
        _fail('{}: reference_noise'.format(where), 'given without noise '
              'levels')

    return Study(name=name, path=path, base_config=base_config,
                 dataset_dir=dataset['dataset_dir'], demo=demo, train=train,
                 val=val, epochs=epochs, snapshot_epoch=snapshot,
                 processes=processes, seeds=seeds,
                 options=_options(raw.get('options'), '{}: options'.format(
                     where)),
                 variants=variants, baseline=baseline, noise=noise,
                 reference_noise=reference or '')


def load_study(path):
    """Read and check the study file at ``path`` (:func:`parse_study`)."""
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except OSError as err:
        raise StudyError("{}: cannot read the study file: {}".format(
            path, err.strerror or err)) from err
    except yaml.YAMLError as err:
        raise StudyError('{}: not valid YAML: {}'.format(
            path, ' '.join(str(err).split()))) from err
    return parse_study(raw, path)
