"""Registration into PaddleDetection's workspace."""
import subprocess
import sys
import textwrap

import pytest
from ppdet.core import workspace

import ppdet_ghm  # noqa: F401  (registers the modules)
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
    # in a fresh interpreter: a reload here would leave modules imported
    # earlier in the session holding the old classes (isinstance fails)
    code = textwrap.dedent('''
        import importlib
        from ppdet.core import workspace
        import ppdet_ghm
        importlib.reload(ppdet_ghm.losses.ghm_c_loss)
        importlib.reload(ppdet_ghm.losses.ghm_r_loss)
        importlib.reload(ppdet_ghm.losses)
        importlib.reload(ppdet_ghm)
        loss = workspace.create('GHMCLoss')
        # create() builds the class of the reloaded module
        assert type(loss) is ppdet_ghm.losses.ghm_c_loss.GHMCLoss
        print('ok')
    ''')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith('ok'), proc.stderr[-2000:]


def test_name_clash_with_another_module_is_a_clear_error():
    FocalLoss = type('FocalLoss', (), {'__module__': 'somewhere.else'})
    with pytest.raises(ValueError, match="'FocalLoss'.*ppdet.modeling"):
        registry.register(FocalLoss)


REGISTERED = ['GHMCLoss', 'GHMRLoss', 'GHMRetinaHead', 'GHMRetinaAnchorGenerator',
              'GHMRetinaAssigner', 'DeltaXYWHBoxCoder', 'GHMRetinaPostProcess',
              'FrozenStatsResNet']


def _run_pythons(snippets):
    """Run each snippet in a fresh interpreter (side by side); stdout of each."""
    import subprocess
    import sys
    procs = [subprocess.Popen([sys.executable, '-c', code], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for code in snippets]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        results.append(out.strip().splitlines()[-1])  # ppdet prints notes first
    return results


def test_import_of_the_data_package_needs_neither_paddle_nor_ppdet():
    [out] = _run_pythons(['import sys, ppdet_ghm.data; '
                          'print(sorted({"paddle", "ppdet"} & set(sys.modules)))'])
    assert out == '[]'


FIRST_IMPORTS = [
    'import ppdet_ghm',                          # then ppdet, as tools do
    'import ppdet, ppdet_ghm',                   # ppdet already imported
    'import ppdet_ghm.losses',                   # ppdet's first import inside ours
    'import ppdet_ghm.modeling.retina_head',
    'import ppdet_ghm.engine',
]


def test_every_module_is_registered_whatever_is_imported_first():
    # each case in a fresh interpreter, all side by side
    outs = _run_pythons([first + '\nfrom ppdet.core.workspace import '
                         'global_config\nprint([n for n in {!r} if n not in '
                         'global_config])'.format(REGISTERED)
                         for first in FIRST_IMPORTS])
    missing = {first: out for first, out in zip(FIRST_IMPORTS, outs)
               if out != '[]'}
    assert not missing, 'not registered after: {}'.format(missing)
