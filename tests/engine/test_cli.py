"""ppdet_ghm.engine.cli.ArgsParser: command-line slips end as one usage
error (exit 2) naming the item, where ppdet's parser raised."""
import pytest

from ppdet_ghm.engine.cli import ArgsParser


def parse(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        ArgsParser().parse_args(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_options_become_a_nested_dict():
    args = ArgsParser().parse_args(['-c', 'x.yml', '-o', 'epoch=3',
                                    'GHMCLoss.bins=30', 'weights='])
    assert args.config == 'x.yml'
    assert args.opt == {'epoch': 3, 'GHMCLoss': {'bins': 30}, 'weights': None}


@pytest.mark.parametrize('item', ['epoch', '=3', '.bins=3', 'GHMCLoss..bins=3'])
def test_an_option_that_is_not_key_value_is_named(capsys, item):
    assert parse(capsys, '-c', 'x.yml', '-o', item) == (
        "error: -o {!r}: expected key=value (e.g. -o epoch=3 GHMCLoss.bins=30) "
        "(see --help)".format(item))


def test_a_value_that_is_not_yaml_is_a_usage_error(capsys):
    assert 'error: -o: a value is not valid YAML' in parse(
        capsys, '-c', 'x.yml', '-o', 'epoch=[1,')


def test_no_config_is_a_usage_error(capsys):
    assert parse(capsys, '-o', 'epoch=3') == \
        'error: -c/--config CONFIG is required (see --help)'


def test_argparse_usage_errors_are_one_line_too(capsys):
    assert parse(capsys, '-c', 'x.yml', '--no_such_flag') == \
        'error: unrecognized arguments: --no_such_flag (see --help)'



@pytest.mark.parametrize('kind,text,expected', [
    ('positive_int', '0', 'an integer >= 1'),
    ('positive_int', '2.5', 'an integer >= 1'),
    ('nonnegative_int', '-1', 'an integer >= 0'),
    ('unit_interval', '5', 'a number from 0 to 1'),
    ('unit_interval', 'nan', 'a number from 0 to 1'),
    ('nonnegative_float', 'inf', 'a finite number >= 0'),
    ('nonnegative_float', '-1e-3', 'a finite number >= 0')])
def test_numeric_flags_refuse_out_of_range_values_naming_the_flag(
        capsys, kind, text, expected):
    from ppdet_ghm.engine import cli
    parser = cli.ToolParser()
    parser.add_argument('--value', type=getattr(cli, kind), help='v')
    with pytest.raises(SystemExit) as info:
        parser.parse_args(['--value=' + text])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: argument --value: expected {}, got {!r} (see --help)".format(
            expected, text))


def test_numeric_flags_accept_their_range():
    from ppdet_ghm.engine import cli
    assert cli.positive_int('3') == 3 and cli.nonnegative_int('0') == 0
    assert cli.unit_interval('0') == 0.0 and cli.unit_interval('1') == 1.0
    assert cli.nonnegative_float('1e-5') == 1e-5


def test_no_tool_flag_takes_an_unchecked_number():
    """tools/*.py: every numeric flag has a range (the types above)."""
    import ast
    import glob
    import os
    root = os.path.join(os.path.dirname(__file__), '..', '..')
    unchecked = []
    for path in sorted(glob.glob(os.path.join(root, 'tools', '*.py'))):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, 'attr', '') == \
                    'add_argument':
                for k in node.keywords:
                    if k.arg == 'type' and isinstance(k.value, ast.Name) and \
                            k.value.id in ('int', 'float'):
                        unchecked.append('{} {}'.format(os.path.basename(path),
                                                        node.args[0].value))
    assert unchecked == []
