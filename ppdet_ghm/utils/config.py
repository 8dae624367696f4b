"""Config checks PaddleDetection does not make before building a model.

ppdet passes every key of a module's block to its constructor, so a typo
(``GHMCLoss: {bins: 30, momentm: 0.75}``) surfaces as a ``TypeError`` from
deep inside ``create``.  :func:`check_module_keys` names the block, the key
and the accepted options first.
"""
import difflib
import inspect

from ..compat import is_module_schema, schema_module

__all__ = ['ConfigError', 'check_module_keys']


class ConfigError(ValueError):
    """A config that cannot build the model it describes."""


def _accepted_options(schema):
    """Constructor arguments of a registered module, or None when it takes
    ``**kwargs`` (then any key may be meant)."""
    cls = getattr(schema_module(schema), schema.name, None)
    if cls is None:
        return None
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return sorted(n for n in params if n != 'self')


def check_module_keys(cfg, config_path='config'):
    """Every key set in a registered module's block is one of its options.

    Args:
        cfg (dict): ppdet's loaded global config.
        config_path (str): for the message.

    Raises:
        ConfigError: naming the config, block, key and accepted options.
    """
    for block, schema in cfg.items():
        if not is_module_schema(schema):
            continue
        accepted = _accepted_options(schema)
        if accepted is None:
            continue
        unknown = [k for k in schema if k not in accepted and k != 'name']
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, accepted, n=1)
            raise ConfigError(
                "{}: {} has no option '{}'{} (accepted: {})".format(
                    config_path, block, key,
                    "; did you mean '{}'?".format(close[0]) if close else '',
                    ', '.join(accepted)))
