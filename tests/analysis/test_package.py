"""ppdet_ghm.analysis as a package: what importing it costs
(no paddle for the modules that do not compute with it, matplotlib only when
a figure is drawn)."""
import importlib
import importlib.util
import subprocess
import sys

import pytest

LIGHT = ['ppdet_ghm.analysis', 'ppdet_ghm.analysis.curves',
         'ppdet_ghm.analysis.drawing', 'ppdet_ghm.records']


def test_light_modules_import_without_paddle_or_matplotlib():
    code = ('import sys\nimport {}\n'
            'print(sorted(m for m in ("paddle", "ppdet", "matplotlib") '
            'if m in sys.modules))').format(', '.join(LIGHT))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'


@pytest.fixture
def no_matplotlib(monkeypatch):
    """``import matplotlib`` fails inside the test (restored after it)."""
    for key in [k for k in sys.modules if k.split('.')[0] == 'matplotlib']:
        monkeypatch.delitem(sys.modules, key)
    monkeypatch.setitem(sys.modules, 'matplotlib', None)


def _fresh_import(name):
    """A new copy of module ``name``, run now (``sys.modules`` untouched)."""
    spec = importlib.util.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gradient_report_imports_without_matplotlib(no_matplotlib):
    _fresh_import('ppdet_ghm.analysis.gradient_report')


def test_matplotlib_is_imported_when_a_figure_is_drawn(no_matplotlib):
    with pytest.raises(ImportError):
        _fresh_import('ppdet_ghm.analysis._plotting').pyplot()
