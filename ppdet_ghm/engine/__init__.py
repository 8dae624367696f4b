from .callbacks import RankLossLogger, parameter_digest
from .checkpoints import (OutputError, check_writable,
                          install_atomic_checkpoints, latest_checkpoint)
from .evaluation import EvaluationError, evaluate
from .export import check_label_list, export_model
from .nonfinite_guard import (MAX_CONSECUTIVE_SKIPS, NonFiniteLossError,
                              NonFiniteLossGuard)
from .signals import (PendingSignalCheck, TrainingInterrupted,
                      install_signal_handlers, raise_pending_interrupt)
from .runtime import cpu_threads_per_process, load_config, select_device
from .training import (TrainResult, check_datasets, create_model,
                       create_trainer, create_trainer_with_weights, train)

__all__ = ['RankLossLogger', 'parameter_digest', 'MAX_CONSECUTIVE_SKIPS',
           'NonFiniteLossError', 'NonFiniteLossGuard', 'TrainingInterrupted',
           'install_atomic_checkpoints', 'install_signal_handlers',
           'OutputError', 'check_writable', 'EvaluationError', 'evaluate',
           'check_label_list', 'export_model',
           'latest_checkpoint', 'PendingSignalCheck', 'raise_pending_interrupt',
           'TrainResult', 'check_datasets', 'create_model', 'create_trainer',
           'create_trainer_with_weights', 'train', 'load_config',
           'select_device', 'cpu_threads_per_process']
