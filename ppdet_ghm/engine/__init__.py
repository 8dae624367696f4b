from .callbacks import RankLossLogger, parameter_digest

__all__ = ['RankLossLogger', 'parameter_digest']
