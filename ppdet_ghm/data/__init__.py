"""Data helpers: the deterministic demo detection dataset (COCO format) and
the dataset check the tools run before PaddleDetection reads a dataset."""
from .checks import (DataPipelineError, DatasetError, DatasetReport,
                     check_coco_dataset, check_dataset_config,
                     describe_pipeline_failure, image_decode_problem,
                     image_file_problem)
from .demo_dataset import CLASSES, generate_demo_dataset

__all__ = ['CLASSES', 'generate_demo_dataset', 'DatasetError',
           'DataPipelineError', 'describe_pipeline_failure', 'DatasetReport',
           'check_coco_dataset', 'check_dataset_config', 'image_file_problem',
           'image_decode_problem']
