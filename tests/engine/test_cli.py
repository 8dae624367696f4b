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

