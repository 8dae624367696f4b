from .callbacks import RankLossLogger, ghm_state_digest, parameter_digest
from .checkpoints import (OutputError, atomic_checkpoints, check_writable,
                          latest_checkpoint)
from .evaluation import EvaluationError, MetricResults, evaluate, predict
from .export import check_label_list, export_model
from .nonfinite_guard import (MAX_CONSECUTIVE_SKIPS, NonFiniteLossError,
                              NonFiniteLossGuard)
from .signals import (PendingSignalCheck, TrainingInterrupted,
                      interrupting_signals, raise_pending_interrupt)
from .run_lock import RunLockError, save_dir_lock
from .runtime import cpu_threads_per_process, load_config, select_device
from .training import (TrainResult, check_datasets, create_model,
                       create_trainer, create_trainer_with_weights,
                       reader_errors_raised, train)

__all__ = ['RankLossLogger', 'parameter_digest', 'ghm_state_digest', 'MAX_CONSECUTIVE_SKIPS',
           'NonFiniteLossError', 'NonFiniteLossGuard', 'TrainingInterrupted',
           'atomic_checkpoints', 'interrupting_signals',
           'OutputError', 'check_writable', 'EvaluationError', 'MetricResults',
           'evaluate', 'predict',
           'check_label_list', 'export_model',
           'latest_checkpoint', 'PendingSignalCheck', 'raise_pending_interrupt',
           'TrainResult', 'check_datasets', 'create_model', 'create_trainer',
           'create_trainer_with_weights', 'reader_errors_raised', 'train',
           'load_config',
           'select_device', 'cpu_threads_per_process', 'RunLockError',
           'save_dir_lock']
