import json
import os

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(__file__), 'data')


@pytest.fixture(scope='session')
def ghm_reference():
    """Reference inputs/gradients (npz) and outputs (json) of the original
    GHM-C/GHM-R implementation; see tests/data/README.md."""
    arrays = dict(np.load(os.path.join(DATA, 'ghm_reference.npz')))
    with open(os.path.join(DATA, 'ghm_reference_outputs.json')) as f:
        outputs = json.load(f)
    return arrays, outputs
