"""Run a study: every variant x noise level x seed trained, evaluated and
recorded, one training at a time; continue where a stopped study left off.

Layout of the output folder::

    study.yml              the study file as it was run (copied at start)
    records.jsonl          one line per evaluation of every run (records.py)
    results.md/.json       the table (results.py), rewritten after each run
    ap_minutes.png         box AP against minutes (plot.py)
    data/LEVEL_seedN.json  noisy training annotations (noise.py)
    runs/KEY/seedN/        train.yml, train.log, launch/, train/ (model_final,
                           loss_rank*.jsonl, eval_records.jsonl)

A run trains with ``python -m paddle.distributed.launch --nproc_per_node P
ENTRY -c runs/.../train.yml --eval --seed N`` (ENTRY starts
``ppdet_ghm.engine.train_cli``); its records are the lines the training
itself wrote (``EvalRecordWriter``), with the run's names added.  A run
that fails (a non-finite loss, ...) is recorded as failed with its error
line and the study goes on; a run that was cut off is started again.
"""
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import yaml

from ..data.noise import NoiseError, write_noisy_annotations
from ..records import EVAL_RECORDS
from .records import RECORDS_FILE, append_records, finished_runs, read_records
from .spec import StudyError

__all__ = ['run_study', 'run_fingerprint', 'write_run_config',
           'prepare_dataset', 'ENTRY_SCRIPT']

ENTRY_SCRIPT = '_train_entry.py'
_ENTRY_TEXT = ('# written by ppdet_ghm.study: the training command line\n'
               'from ppdet_ghm.engine.train_cli import main\n\nmain()\n')
_SNAPSHOT = re.compile(r'^(\d+|best_model)\.(pdparams|pdopt|pdema)$')


class _TagIgnoringLoader(yaml.SafeLoader):
    """Reads a ppdet yml without constructing its ``!Tagged`` objects."""


_TagIgnoringLoader.add_multi_constructor('!', lambda loader, suffix, node: None)


def _config_chain_text(path, seen=None):
    """The text of ``path`` and of its ``_BASE_`` files (depth first)."""
    seen = seen if seen is not None else set()
    path = os.path.abspath(path)
    if path in seen:
        return ''
    seen.add(path)
    with open(path) as f:
        text = f.read()
    bases = (yaml.load(text, Loader=_TagIgnoringLoader) or {}).get('_BASE_')
    for base in bases or []:
        text += _config_chain_text(os.path.join(os.path.dirname(path), base),
                                   seen)
    return text


def _file_digest(path):
    """SHA-1 of the file at ``path``, or None when there is none."""
    try:
        with open(path, 'rb') as f:
            return hashlib.sha1(f.read()).hexdigest()
    except OSError:
        return None


def run_fingerprint(study, run):
    """SHA-1 of what ``run`` trains: the base config's text (and its
    ``_BASE_`` files'), the options, the training and validation
    annotation files' contents, the noise setting, the schedule and the
    seed -- not where the files are, so a study continues from another
    checkout.  Equal fingerprints in two studies mean the same training
    (images are not hashed: the annotations name them)."""
    noise = study.noise.get(run.noise) if run.noise else None
    content = {
        'config': hashlib.sha1(_config_chain_text(
            study.base_config).encode()).hexdigest(),
        'options': study.run_options(run),
        'dataset': [_file_digest(os.path.join(study.dataset_dir,
                                              split['anno_path']))
                    for split in (study.train, study.val)],
        # a level without noise trains what a study without levels does
        'noise': noise if noise and any(noise.values()) else None,
        'schedule': [study.epochs, study.snapshot_epoch, study.processes],
        'seed': run.seed,
    }
    return hashlib.sha1(json.dumps(content, sort_keys=True).encode()
                        ).hexdigest()


def prepare_dataset(study, stream):
    """Write the demo data if the study asks for it and it is missing;
    check both annotation files; return the number of training categories.

    Raises:
        StudyError: a missing file, or a demo folder made with other
            parameters.
    """
    from ..data.demo_dataset import (DEFAULTS, dataset_params,
                                     existing_params, generate_demo_dataset)
    if study.demo is not None:
        args = dict(DEFAULTS, **study.demo)
        wanted = dataset_params(args['num_train'], args['num_val'],
                                args['image_size'], args['seed'])
        found = existing_params(study.dataset_dir)
        if found is None:
            if os.path.isdir(study.dataset_dir) and os.listdir(study.dataset_dir):
                raise StudyError("dataset.dataset_dir '{}' is not empty and "
                                 "holds no demo dataset: not overwritten"
                                 .format(study.dataset_dir))
            print('writing the demo data to {}'.format(study.dataset_dir),
                  file=stream, flush=True)
            try:
                generate_demo_dataset(study.dataset_dir, **args)
            except ValueError as err:
                raise StudyError('dataset.demo: {}'.format(err)) from err
        elif found != wanted:
            raise StudyError("dataset.dataset_dir '{}' holds a demo dataset "
                             "made with other parameters ({}): use another "
                             "folder".format(study.dataset_dir, {
                                 k: found.get(k) for k in args}))
    for split in ('train', 'val'):
        spec = getattr(study, split)
        anno = os.path.join(study.dataset_dir, spec['anno_path'])
        images = os.path.join(study.dataset_dir, spec['image_dir'])
        if not os.path.isfile(anno):
            raise StudyError("dataset.{}.anno_path: no annotation file at "
                             "'{}'".format(split, anno))
        if not os.path.isdir(images):
            raise StudyError("dataset.{}.image_dir: no image folder at '{}'"
                             .format(split, images))
    anno = os.path.join(study.dataset_dir, study.train['anno_path'])
    try:
        with open(anno) as f:
            categories = json.load(f).get('categories') or []
    except (OSError, ValueError, AttributeError) as err:
        raise StudyError("dataset.train.anno_path: '{}' is not a COCO json "
                         "({})".format(anno, err)) from err
    if not categories:
        raise StudyError("dataset.train.anno_path: '{}' has no categories"
                         .format(anno))
    return len(categories)


def _scaled_schedulers(study):
    """The base config's lr schedulers with a ``CosineDecay`` that spans the
    base config's epochs stretched to the study's, or None when nothing
    changes.  Loads the base config with ppdet (tagged scheduler objects)."""
    from ..engine.runtime import isolated_workspace, load_config
    with isolated_workspace(), open(os.devnull, 'w') as quiet:
        cfg = load_config(study.base_config, stream=quiet)
        base_epochs = cfg.get('epoch')
        schedulers = copy.deepcopy((cfg.get('LearningRate') or {}).get(
            'schedulers') or [])
    changed = False
    for scheduler in schedulers:
        if type(scheduler).__name__ == 'CosineDecay' and \
                getattr(scheduler, 'max_epochs', None) == base_epochs \
                and base_epochs != study.epochs:
            scheduler.max_epochs = study.epochs
            changed = True
    return schedulers if changed else None


def write_run_config(study, run, run_dir, train_anno, num_classes,
                     schedulers=None):
    """Write ``run_dir/train.yml``: the base config (``_BASE_``) with the
    study's data, schedule and the run's options; returns its path."""
    config = {'_BASE_': [os.path.abspath(study.base_config)],
              'save_dir': os.path.abspath(run_dir),
              'weights': os.path.join(os.path.abspath(run_dir), 'train',
                                      'model_final'),
              'epoch': study.epochs, 'snapshot_epoch': study.snapshot_epoch,
              'num_classes': num_classes}
    data_dir = os.path.abspath(study.dataset_dir)
    config['TrainDataset'] = {'dataset_dir': data_dir,
                              'image_dir': study.train['image_dir'],
                              'anno_path': train_anno}
    noise = study.noise.get(run.noise) if run.noise else None
    if noise and noise['missing'] > 0:
        # images left without boxes train as background
        config['TrainDataset'].update(allow_empty=True, empty_ratio=1.0)
    config['EvalDataset'] = {'dataset_dir': data_dir,
                             'image_dir': study.val['image_dir'],
                             'anno_path': study.val['anno_path']}
    config['TestDataset'] = {'dataset_dir': data_dir,
                             'anno_path': study.val['anno_path']}
    if schedulers is not None:
        config['LearningRate'] = {'schedulers': schedulers}
    for key, value in study.run_options(run).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, 'train.yml')
    with open(path, 'w') as f:
        f.write('# {} of study {} (written by ppdet_ghm.study)\n'.format(
            run.name, study.name))
        yaml.dump(config, f, default_flow_style=False, sort_keys=False)
    return path


def _train_annotations(study, run, output_dir):
    """The training annotation path of ``run``: the dataset's, or its noisy
    copy for the run's noise level and seed (written once, shared by every
    variant of that seed: the losses see the same noisy data)."""
    source = os.path.join(study.dataset_dir, study.train['anno_path'])
    noise = study.noise.get(run.noise) if run.noise else None
    if not noise or not any(noise.values()):
        return study.train['anno_path']
    target = os.path.abspath(os.path.join(
        output_dir, 'data', '{}_seed{}.json'.format(run.noise, run.seed)))
    if not os.path.isfile(target):
        try:
            write_noisy_annotations(source, target, noise, run.seed)
        except NoiseError as err:
            raise StudyError('noise.{}: {}'.format(run.noise, err)) from err
    return target


def _command(study, config, seed, run_dir, python, entry):
    cmd = [python]
    if study.processes > 1:
        cmd += ['-m', 'paddle.distributed.launch', '--nproc_per_node',
                str(study.processes), '--log_dir',
                os.path.join(run_dir, 'launch')]
    return cmd + [entry, '-c', config, '--eval', '--seed', str(seed)]


def _error_line(run_dir):
    """The last ``error:`` line (or last line) the run's processes wrote."""
    texts = []
    for path in [os.path.join(run_dir, 'train.log')] + sorted(
            os.path.join(run_dir, 'launch', name) for name in (
                os.listdir(os.path.join(run_dir, 'launch'))
                if os.path.isdir(os.path.join(run_dir, 'launch')) else [])):
        try:
            with open(path, errors='replace') as f:
                texts.append(f.read())
        except OSError:
            pass
    lines = [line.strip() for text in texts for line in text.splitlines()
             if line.strip()]
    errors = [line for line in lines if line.startswith('error:')]
    return (errors or lines or ['no output'])[-1][:500]


def _train(cmd, run_dir):
    """Run ``cmd`` (output to ``run_dir/train.log``) in its own process
    group; an exception while waiting (KeyboardInterrupt, the SystemExit
    that tools/run_study.py raises on SIGTERM) stops the whole group:
    SIGTERM, which the trainer answers with a checkpoint, then SIGKILL
    after 60 s."""
    with open(os.path.join(run_dir, 'train.log'), 'w') as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            return proc.wait()
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
            raise


def _prune_checkpoints(run_dir):
    """Keep ``model_final`` of a finished run; the epoch snapshots go."""
    train_dir = os.path.join(run_dir, 'train')
    for name in os.listdir(train_dir) if os.path.isdir(train_dir) else []:
        if _SNAPSHOT.match(name):
            os.remove(os.path.join(train_dir, name))


def machine_description():
    """What a run's minutes were measured on: the CPU model, the number of
    CPUs and the installed Paddle (e.g. ``'Intel(R) Xeon(R) Processor, 2
    CPUs, paddlepaddle 3.3.1'``)."""
    import platform
    from importlib import metadata
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), model)
    except OSError:
        pass
    paddle = 'paddlepaddle (not installed)'
    for dist in ('paddlepaddle', 'paddlepaddle-gpu'):
        try:
            paddle = '{} {}'.format(dist, metadata.version(dist))
            break
        except metadata.PackageNotFoundError:
            continue
    return '{}, {} CPUs, {}'.format(model, os.cpu_count(), paddle)


def _run_records(study, run, fingerprint, run_dir, returncode, seconds):
    """The study records of a run that ended."""
    base = {'study': study.name, 'run': run.name, 'variant': run.variant,
            'noise': run.noise, 'seed': run.seed, 'fingerprint': fingerprint,
            'run_minutes': seconds / 60.0, 'machine': machine_description()}
    path = os.path.join(run_dir, 'train', EVAL_RECORDS)
    evals = read_records(path) if os.path.exists(path) else []
    if returncode == 0 and evals and evals[-1].get('epoch') == study.epochs:
        return [dict(record, status='ok', **base) for record in evals]
    error = _error_line(run_dir) if returncode != 0 else (
        'the training ended without an evaluation after epoch {} ({})'.format(
            study.epochs, path))
    return [dict(record, status='ok', **base) for record in evals] + [
        dict(base, status='failed', error=error, returncode=returncode,
             epoch=evals[-1]['epoch'] if evals else 0)]


def _duration(minutes):
    minutes = int(round(minutes))
    return '{} h {:02d} min'.format(minutes // 60, minutes % 60) \
        if minutes >= 60 else '{} min'.format(minutes)


def _reusable(reuse, stream):
    """``{fingerprint: (folder, records)}`` of the runs in the study folders
    ``reuse`` (a records file holds ended runs only: a run's lines are
    appended when it ends; the first folder that has a fingerprint wins)."""
    found = {}
    for folder in reuse or []:
        path = os.path.join(folder, RECORDS_FILE)
        if not os.path.isfile(path):
            raise StudyError("--reuse: no records at '{}'".format(path))
        by_run = {}
        for record in read_records(path, stream):
            by_run.setdefault(record['run'], []).append(record)
        for records in by_run.values():
            found.setdefault(records[-1].get('fingerprint'), (folder, records))
    return found


def run_study(study, output_dir, python=None, stream=None, reuse=None,
              max_runs=None):
    """Run every run of ``study`` not finished in ``output_dir``.

    Args:
        study (Study): from :func:`~ppdet_ghm.study.load_study`.
        output_dir (str): the study's folder (created); records already
            there are kept and their runs not repeated.
        python (str): interpreter for the trainings (default: this one).
        stream: progress lines (default ``sys.stdout``).
        reuse (list of str): other study folders whose finished runs with
            the same fingerprint are copied instead of trained again.
        max_runs (int): stop after training this many runs (None: all).

    Returns:
        dict: :func:`~ppdet_ghm.study.results.summarize` of the records.

    Raises:
        StudyError: bad data, a record of another setting under a run's
            name, a config the trainer refuses (before any training).
    """
    from .plot import plot_study
    from .results import summarize, write_results

    stream = stream or sys.stdout
    python = python or sys.executable
    os.makedirs(output_dir, exist_ok=True)
    if study.path and os.path.isfile(study.path):
        shutil.copyfile(study.path, os.path.join(output_dir, 'study.yml'))
    entry = os.path.abspath(os.path.join(output_dir, ENTRY_SCRIPT))
    with open(entry, 'w') as f:
        f.write(_ENTRY_TEXT)
    records_path = os.path.join(output_dir, RECORDS_FILE)
    num_classes = prepare_dataset(study, stream)
    schedulers = _scaled_schedulers(study)

    runs = study.runs()
    done = finished_runs(read_records(records_path, stream), study.epochs)
    fingerprints = {run.name: run_fingerprint(study, run) for run in runs}
    for name, fingerprint in done.items():
        if name in fingerprints and fingerprint != fingerprints[name]:
            raise StudyError(
                "{}: the records of run {} were made with other settings "
                "(the study file, its base config or the data changed): "
                "use another --output_dir, or remove that run's lines"
                .format(records_path, name))
    reusable = _reusable(reuse, stream)
    _check_run_configs(study, runs, output_dir, num_classes, schedulers)

    todo = [run for run in runs if run.name not in done]
    print('study {}: {} runs ({} variants x {} noise levels x {} seeds), {} '
          'finished, {} to run; records: {}'.format(
              study.name, len(runs), len(study.variants),
              max(1, len(study.noise)), len(study.seeds), len(runs) - len(todo),
              len(todo), records_path), file=stream, flush=True)
    spent, trained = 0.0, 0
    for index, run in enumerate(todo):
        fingerprint = fingerprints[run.name]
        if fingerprint in reusable:
            folder, records = reusable[fingerprint]
            append_records(records_path, [dict(
                r, study=study.name, run=run.name, variant=run.variant,
                noise=run.noise, reused_from=folder) for r in records])
            print('[{}/{}] {}: reused from {}'.format(
                len(runs) - len(todo) + index + 1, len(runs), run.name, folder),
                file=stream, flush=True)
            continue
        if max_runs is not None and trained >= max_runs:
            break
        run_dir = run.directory(output_dir)
        if os.path.isdir(run_dir):
            shutil.rmtree(run_dir)      # a run that was cut off starts again
        anno = _train_annotations(study, run, output_dir)
        config = write_run_config(study, run, run_dir, anno, num_classes,
                                  schedulers)
        start = time.time()
        returncode = _train(_command(study, config, run.seed, run_dir, python,
                                     entry), run_dir)
        seconds = time.time() - start
        records = _run_records(study, run, fingerprint, run_dir, returncode,
                               seconds)
        append_records(records_path, records)
        _prune_checkpoints(run_dir)
        spent, trained = spent + seconds, trained + 1
        left = len(todo) - index - 1
        last = records[-1]
        outcome = 'box AP {:.3f}'.format(last['bbox']['AP']) \
            if last['status'] == 'ok' else 'FAILED: {}'.format(last['error'])
        print('[{}/{}] {}: {} in {:.1f} min; {} left, about {}'.format(
            len(runs) - len(todo) + index + 1, len(runs), run.name, outcome,
            seconds / 60.0, left, _duration(spent / trained * left / 60.0)),
            file=stream, flush=True)
        summary = summarize(study, read_records(records_path, stream))
        write_results(summary, output_dir)
    summary = summarize(study, read_records(records_path, stream))
    write_results(summary, output_dir)
    plot_study(summary, os.path.join(output_dir, 'ap_minutes.png'))
    return summary


def _check_run_configs(study, runs, output_dir, num_classes, schedulers):
    """Load every variant's config and build its model (the first seed of
    each key) before training anything, so a refused option ends the study
    at once, naming the variant."""
    from ..engine.runtime import isolated_workspace, load_config
    from ..engine.training import create_model
    from ..utils import ConfigError
    checked = set()
    for run in runs:
        if run.key in checked:
            continue
        checked.add(run.key)
        folder = os.path.join(output_dir, 'checked', run.key.replace('@', '_at_'))
        path = write_run_config(study, run, folder, study.train['anno_path'],
                                num_classes, schedulers)
        try:
            with isolated_workspace(), open(os.devnull, 'w') as quiet:
                create_model(load_config(path, stream=quiet))
        except ConfigError as err:
            raise StudyError('variants.{}: the trainer refuses the config: {}'
                             .format(run.variant, err)) from err
