import json
import os

import numpy as np
import pytest

import ppdet_ghm  # noqa: F401  (registers before any workspace snapshot)
from tiny_demo import TINY_MODEL

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


@pytest.fixture(scope='session')
def ghm_reference():
    """Reference inputs/gradients (npz) and outputs (json) of the original
    GHM-C/GHM-R implementation; see tests/fixtures/README.md."""
    arrays = dict(np.load(os.path.join(FIXTURES, 'ghm_reference.npz')))
    with open(os.path.join(FIXTURES, 'ghm_reference_outputs.json')) as f:
        outputs = json.load(f)
    return arrays, outputs


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """The tests' one demo dataset: 8 train / 4 val images of 64 px
    (``tiny_demo.write_tiny_data``).  Shared: read it, do not change it."""
    from tiny_demo import write_tiny_data
    return write_tiny_data(tmp_path_factory.mktemp('tiny_data'))


def _worker_launch_ports():
    """Under pytest-xdist (tools/run_tests.sh: two workers), each worker's
    ``paddle.distributed.launch`` runs use their own ports: a one-machine
    launch takes the fixed ``--start_port`` 6070 and the next ports, so two
    launches at once would collide.  ``PADDLE_START_PORT`` (which the
    launcher prefers to its flag) reaches every launch a test starts."""
    worker = os.environ.get('PYTEST_XDIST_WORKER', '')
    if worker.startswith('gw'):
        os.environ['PADDLE_START_PORT'] = str(6070 + 1000 * (int(worker[2:]) + 1))


_worker_launch_ports()


@pytest.fixture(scope='session')
def _cache_home(tmp_path_factory):
    return str(tmp_path_factory.mktemp('cache'))


@pytest.fixture(autouse=True)
def private_cache(_cache_home, monkeypatch):
    """The dataset check's decode cache (``~/.cache/ppdet_ghm``) goes to a
    folder of this test session, also for the tools the tests start."""
    monkeypatch.setenv('XDG_CACHE_HOME', _cache_home)


def workspace_snapshot():
    """``ppdet_ghm.engine.runtime.isolated_workspace`` (for fixtures wider
    than one test)."""
    from ppdet_ghm.engine.runtime import isolated_workspace
    return isolated_workspace()


@pytest.fixture(autouse=True)
def clean_workspace():
    """Undo what a test's load_config/merge_config did to ppdet's global
    config, so that configs loaded by one test do not leak into the next."""
    with workspace_snapshot():
        yield


TINY_OVERRIDES = dict(
    TINY_MODEL,
    # the shipped COCO configs' backbone shrunk too, and fewer classes
    FrozenStatsResNet={'depth': 18, 'groups': 1, 'base_width': 64},
    num_classes=3)


def config_and_model(config, overrides=TINY_OVERRIDES):
    """Load a shipped config (path relative to the repo), apply overrides,
    build its architecture."""
    from ppdet.core.workspace import create, load_config, merge_config
    cfg = load_config(os.path.join(os.path.dirname(FIXTURES), '..', config))
    if overrides:
        merge_config(copy_deep(overrides))
    return cfg, create(cfg.architecture)


def copy_deep(value):
    import copy
    return copy.deepcopy(value)
