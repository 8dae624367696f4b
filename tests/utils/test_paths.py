"""ppdet_ghm.utils.paths: an output path that cannot be written is named
before any work, without creating anything; the tools' output flags use it."""
import argparse
import ast
import glob
import os

import pytest

from ppdet_ghm.utils.paths import (OutputError, check_output_path, output_dir,
                                   output_file, prepare_output_dir)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def test_folders_and_files_that_can_be_written_pass_and_nothing_is_created(tmp_path):
    assert check_output_path(str(tmp_path / 'a' / 'b'), 'dir') == str(tmp_path / 'a' / 'b')
    check_output_path(str(tmp_path / 'new' / 'plot.png'), 'file')
    (tmp_path / 'old.png').write_text('x')
    check_output_path(str(tmp_path / 'old.png'), 'file')       # overwritten later
    check_output_path(str(tmp_path), 'dir')
    assert sorted(os.listdir(tmp_path)) == ['old.png']


def test_a_path_under_a_file_is_named_with_the_file(tmp_path):
    blocker = tmp_path / 'results'
    blocker.write_text('not a folder')
    with pytest.raises(OutputError, match=r"--output_dir: cannot create '.*results/run/x'"
                       r": '.*results' is a file"):
        check_output_path(str(blocker / 'run' / 'x'), 'dir', '--output_dir')
    with pytest.raises(OutputError, match="--output: cannot create .*'.*results' is a file"):
        check_output_path(str(blocker / 'plot.png'), 'file', '--output')


def test_a_file_where_a_folder_is_wanted_and_the_reverse(tmp_path):
    (tmp_path / 'f').write_text('x')
    with pytest.raises(OutputError, match=r"'.*f' is a file, expected a folder"):
        check_output_path(str(tmp_path / 'f'), 'dir')
    with pytest.raises(OutputError, match=r"'.*' is a folder, expected a file name"):
        check_output_path(str(tmp_path), 'file')
    with pytest.raises(OutputError, match='an empty path'):
        check_output_path('', 'dir')


def test_a_folder_without_permission_or_on_a_read_only_file_system(tmp_path, monkeypatch):
    # the tests run as root, which chmod cannot stop: the checks' inputs
    # (os.access, the mount's ST_RDONLY flag) are replaced instead
    monkeypatch.setattr(os, 'access', lambda path, mode: False)
    with pytest.raises(OutputError, match=r"--output_dir: cannot write '.*out': no "
                       r"permission to write in '.*'"):
        check_output_path(str(tmp_path / 'out'), 'dir', '--output_dir')
    monkeypatch.undo()
    real = os.statvfs

    class ReadOnly:
        def __init__(self, path):
            self.f_flag = real(path).f_flag | os.ST_RDONLY
    monkeypatch.setattr(os, 'statvfs', ReadOnly)
    with pytest.raises(OutputError, match='is on a read-only file system'):
        check_output_path(str(tmp_path / 'plot.png'), 'file')


def test_prepare_output_dir_creates_the_parents(tmp_path):
    prepare_output_dir(str(tmp_path / 'a' / 'b' / 'c'))
    assert (tmp_path / 'a' / 'b' / 'c').is_dir()


def test_argparse_types_end_in_the_parsers_error_naming_the_flag(tmp_path):
    (tmp_path / 'f').write_text('x')
    parser = argparse.ArgumentParser()
    parser.add_argument('--output_dir', type=output_dir, help='d')
    parser.add_argument('--output', type=output_file, help='f')
    messages = []
    parser.error = messages.append
    parser.parse_args(['--output_dir', str(tmp_path / 'f' / 'x')])
    assert messages and messages[0].startswith('argument --output_dir: cannot create')
    assert parser.parse_args(['--output', str(tmp_path / 'a.png')]).output.endswith('a.png')


# the output flags of the tools, and where a flag is checked otherwise
CHECKED_ELSEWHERE = {
    'tools/eval.py --output_eval': 'an input too with --json_eval: checked in main',
}
OUTPUT_FLAGS = ('--output', '--output_dir', '--ap_output', '--output_eval', 'dst')


def test_every_output_flag_of_the_tools_is_checked():
    unchecked = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'tools', '*.py'))):
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(
                    node.func, 'attr', None) == 'add_argument' and node.args
                    and isinstance(node.args[0], ast.Constant)):
                continue
            flag = node.args[0].value
            where = '{} {}'.format(os.path.relpath(path, ROOT), flag)
            if flag not in OUTPUT_FLAGS or where in CHECKED_ELSEWHERE:
                continue
            kind = [k.value.id for k in node.keywords
                    if k.arg == 'type' and isinstance(k.value, ast.Name)]
            if kind not in (['output_dir'], ['output_file']):
                unchecked.append(where)
    assert unchecked == []
