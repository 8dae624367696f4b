"""Every command-line flag of the tools, benchmarks, research scripts and
the package's own command lines says what it is (``--help``)."""
import ast
import glob
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SOURCES = ['tools/*.py', 'benchmarks/*.py', 'research/tools/*.py',
           'ppdet_ghm/**/*.py']


def flags_without_help():
    """``file:line flag`` of every ``add_argument`` call without ``help=``."""
    missing = []
    for pattern in SOURCES:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True)):
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(
                        node.func, 'attr', None) == 'add_argument' and not any(
                        k.arg == 'help' for k in node.keywords):
                    flag = node.args[0].value if node.args and isinstance(
                        node.args[0], ast.Constant) else '?'
                    missing.append('{}:{} {}'.format(
                        os.path.relpath(path, ROOT), node.lineno, flag))
    return missing


def test_every_flag_has_help_text():
    assert flags_without_help() == []


def test_the_check_sees_the_tools():
    # a scan that found no add_argument at all would pass vacuously
    count = 0
    for pattern in SOURCES:
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            with open(path) as f:
                count += f.read().count('add_argument(')
    assert count > 80
