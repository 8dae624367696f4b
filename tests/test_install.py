"""The package as ``pip install .`` installs it (not editable): it holds
``ppdet_ghm`` only (no research code, no repository paths), and the README's
training command runs on it from outside the checkout."""
import os
import shutil
import subprocess
import sys

from tiny_demo import write_tiny_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def test_a_plain_install_trains_with_the_readme_command(tmp_path, tiny_data):
    # what the sdist holds, built outside the checkout (no build/ left over)
    src, site = tmp_path / 'src', tmp_path / 'site'
    shutil.copytree(os.path.join(ROOT, 'ppdet_ghm'), str(src / 'ppdet_ghm'),
                    ignore=shutil.ignore_patterns('__pycache__'))
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(os.path.join(ROOT, name), str(src / name))
    # --no-deps: the environment has them; --no-build-isolation: no download
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-build-isolation', '--target', str(site), str(src)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed = sorted(os.listdir(str(site)))
    assert 'ppdet_ghm' in installed and 'research' not in installed
    assert not os.path.exists(str(site / 'ppdet_ghm' / 'analysis' / 'memorization.py'))

    env = dict(os.environ, PYTHONPATH=str(site))
    where = subprocess.run([sys.executable, '-c', 'import ppdet_ghm; print(ppdet_ghm.__file__)'],
                           cwd=str(tmp_path), env=env, capture_output=True, text=True,
                           timeout=300)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    config = write_tiny_config(tmp_path / 'tiny.yml', tiny_data, tmp_path / 'out')
    # the README's command (one CPU process instead of the launcher's GPUs),
    # run from another folder than the checkout
    train = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'train.py'),
                            '-c', config, '--eval'], cwd=str(tmp_path), env=env,
                           capture_output=True, text=True, timeout=600)
    assert train.returncode == 0, (train.stdout + train.stderr)[-3000:]
    assert (tmp_path / 'out' / 'tiny' / 'model_final.pdparams').is_file()
    assert (tmp_path / 'out' / 'tiny' / 'eval_records.jsonl').is_file()
