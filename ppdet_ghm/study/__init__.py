"""Seeded loss comparisons: train every variant x noise level x seed of a
study file, record each evaluation, and report mean ± std over seeds with
paired differences to a baseline (docs/studies.md).

    from ppdet_ghm.study import load_study, run_study
    summary = run_study(load_study('configs/studies/paper_ablations.yml'),
                        'output/studies/paper_ablations')
"""
from .plot import plot_study
from .records import read_records
from .results import mean_std, results_table, summarize, write_results
from .runner import run_fingerprint, run_study
from .spec import Run, Study, StudyError, load_study, parse_study

__all__ = ['Run', 'Study', 'StudyError', 'load_study', 'parse_study',
           'run_study', 'run_fingerprint', 'read_records', 'summarize',
           'results_table', 'write_results', 'mean_std', 'plot_study']
