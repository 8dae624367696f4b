import contextlib
import json
import os

import numpy as np
import pytest

import ppdet_ghm  # noqa: F401  (registers before any workspace snapshot)

DATA = os.path.join(os.path.dirname(__file__), 'data')


@pytest.fixture(scope='session')
def ghm_reference():
    """Reference inputs/gradients (npz) and outputs (json) of the original
    GHM-C/GHM-R implementation; see tests/data/README.md."""
    arrays = dict(np.load(os.path.join(DATA, 'ghm_reference.npz')))
    with open(os.path.join(DATA, 'ghm_reference_outputs.json')) as f:
        outputs = json.load(f)
    return arrays, outputs


@contextlib.contextmanager
def workspace_snapshot():
    """Undo what load_config/merge_config do to ppdet's global config inside
    the block (for fixtures wider than one test)."""
    import copy

    from ppdet.core.workspace import global_config
    snapshot = {k: copy.deepcopy(dict(v)) if isinstance(v, dict) else
                copy.deepcopy(v) for k, v in global_config.items()}
    try:
        yield
    finally:
        from ppdet_ghm.compat import is_module_schema
        for key in list(global_config):
            if key not in snapshot:
                if not is_module_schema(global_config[key]):
                    del global_config[key]  # keep modules registered meanwhile
            elif isinstance(global_config[key], dict):
                global_config[key].clear()
                global_config[key].update(copy.deepcopy(snapshot[key]))
            else:
                global_config[key] = snapshot[key]


@pytest.fixture(autouse=True)
def clean_workspace():
    """Undo what a test's load_config/merge_config did to ppdet's global
    config, so that configs loaded by one test do not leak into the next."""
    with workspace_snapshot():
        yield


TINY_OVERRIDES = {
    # a detector small enough for a CPU test; the head/loss/post-process
    # settings stay those of the config under test
    'ResNet': {'depth': 18, 'groups': 1, 'base_width': 64},
    'FPN': {'out_channel': 16},
    # GroupNorm (the demo's towers) needs >= 32 channels: plain convs here
    'RetinaFeat': {'feat_in': 16, 'feat_out': 16, 'num_convs': 1,
                   'norm_type': None},
    'num_classes': 3,
}


def build_model(config, overrides=TINY_OVERRIDES):
    """Load a shipped config (path relative to the repo), apply overrides,
    build its architecture."""
    from ppdet.core.workspace import create, load_config, merge_config
    cfg = load_config(os.path.join(os.path.dirname(DATA), '..', config))
    if overrides:
        merge_config(copy_deep(overrides))
    return cfg, create(cfg.architecture)


def copy_deep(value):
    import copy
    return copy.deepcopy(value)
