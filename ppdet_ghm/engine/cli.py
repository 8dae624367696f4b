"""The tools' command line: PaddleDetection's ``ArgsParser`` (``-c CONFIG``,
``-o key=value ...``) with its slips turned into usage errors.

ppdet's parser asserts on a missing ``-c`` and unpacks ``-o`` items with
``k, v = s.split('=', 1)``, so ``-o epoch`` (no ``=``) or a value that is not
YAML ends in a traceback; here each is a one-line ``error:`` (exit 2) naming
the item and what was expected.  Usage errors print that one line (no
usage block), as the tools' other errors do.
"""
import argparse
import sys

import yaml
from ppdet.utils.cli import ArgsParser as PpdetArgsParser

from ..compat import parse_cli_options

__all__ = ['ArgsParser', 'ToolParser', 'fail', 'positive_int',
           'nonnegative_int', 'unit_interval', 'nonnegative_float']


def _number_type(convert, accept, expected, name):
    """An argparse ``type=``: ``convert`` the text, then ``accept`` it; the
    parser's error names the flag and what was expected."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or value != value or not accept(value):
            raise argparse.ArgumentTypeError('expected {}, got {!r}'.format(
                expected, text))
        return value
    parse.__name__ = name
    return parse


# the tools' numeric flags: a count of 0 or a threshold of 5 would otherwise
# end in a traceback (range() with step 0, statistics of nothing) or silently
# draw nothing
positive_int = _number_type(int, lambda v: v >= 1, 'an integer >= 1', 'positive_int')
nonnegative_int = _number_type(int, lambda v: v >= 0, 'an integer >= 0',
                               'nonnegative_int')
unit_interval = _number_type(float, lambda v: 0 <= v <= 1, 'a number from 0 to 1',
                             'unit_interval')
nonnegative_float = _number_type(float, lambda v: 0 <= v < float('inf'),
                                 'a finite number >= 0', 'nonnegative_float')


class ToolParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line
    (``error: ... (see --help)``, exit 2), for the tools without ``-c``."""

    def error(self, message):
        sys.stderr.write('error: {} (see --help)\n'.format(message))
        sys.exit(2)


class ArgsParser(PpdetArgsParser):
    """``-c/--config`` (required) and ``-o/--opt key=value ...`` (nested keys
    with dots: ``GHMCLoss.bins=30``), parsed into ``args.config`` and the
    dict ``args.opt``."""

    error = ToolParser.error

    def parse_args(self, args=None, namespace=None):
        parsed = argparse.ArgumentParser.parse_args(self, args, namespace)
        if not parsed.config:
            self.error('-c/--config CONFIG is required')
        for item in parsed.opt or []:
            key = item.split('=', 1)[0].strip()
            if '=' not in item or not key or '..' in key or key.startswith('.') \
                    or key.endswith('.'):
                self.error("-o {!r}: expected key=value (e.g. -o epoch=3 "
                           "GHMCLoss.bins=30)".format(item))
        try:
            parsed.opt = parse_cli_options(self, parsed.opt)
        except yaml.YAMLError as err:
            self.error('-o: a value is not valid YAML: {}'.format(
                ' '.join(str(err).split())))
        return parsed


def fail(message):
    """Exit with a one-line error (no stack trace) on stderr, exit code 2."""
    sys.stderr.write('error: {}\n'.format(message))
    sys.exit(2)
