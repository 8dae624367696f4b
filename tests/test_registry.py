"""Registration into PaddleDetection's workspace."""
import importlib
import textwrap

import pytest
from ppdet.core import workspace

import ppdet_ghm
from ppdet_ghm import registry


def test_losses_are_registered_and_buildable_from_yml(tmp_path):
    cfg = tmp_path / 'loss.yml'
    cfg.write_text(textwrap.dedent('''
        GHMCLoss:
          bins: 30
          momentum: 0.75
        GHMRLoss:
          mu: 0.02
          bins: 10
          momentum: 0.7
          loss_weight: 10.0
    '''))
    workspace.load_config(str(cfg))
    ghmc = workspace.create('GHMCLoss')
    ghmr = workspace.create('GHMRLoss')
    assert (ghmc.bins, ghmc.momentum) == (30, 0.75)
    assert (ghmr.mu, ghmr.bins, ghmr.momentum, ghmr.loss_weight) == (0.02, 10, 0.7, 10.0)


def test_import_and_reload_do_not_raise():
    importlib.import_module('ppdet_ghm')
    importlib.reload(ppdet_ghm.losses.ghm_c_loss)
    importlib.reload(ppdet_ghm.losses.ghm_r_loss)
    importlib.reload(ppdet_ghm.losses)
    importlib.reload(ppdet_ghm)
    loss = workspace.create('GHMCLoss')
    # create() builds the class of the reloaded module
    assert type(loss) is ppdet_ghm.losses.ghm_c_loss.GHMCLoss


def test_name_clash_with_another_module_is_a_clear_error():
    FocalLoss = type('FocalLoss', (), {'__module__': 'somewhere.else'})
    with pytest.raises(ValueError, match="'FocalLoss'.*ppdet.modeling"):
        registry.register(FocalLoss)
