"""Data helpers: the deterministic demo detection dataset (COCO format),
the dataset checks the tools run before PaddleDetection reads a COCO or VOC
dataset, and annotation noise for a training split."""
from .checks import (DataPipelineError, DatasetError, DatasetReport,
                     check_coco_dataset, check_dataset_config,
                     describe_pipeline_failure, image_decode_problem,
                     image_file_problem)
from .demo_dataset import CLASSES, generate_demo_dataset
from .voc_checks import PASCAL_VOC_CLASSES, check_voc_dataset, read_label_list
from .noise import (NOISE_KINDS, NoiseError, check_noise, noise_annotations,
                    write_noisy_annotations)

__all__ = ['CLASSES', 'generate_demo_dataset', 'DatasetError',
           'DataPipelineError', 'describe_pipeline_failure', 'DatasetReport',
           'check_coco_dataset', 'check_dataset_config', 'image_file_problem',
           'image_decode_problem', 'NOISE_KINDS', 'NoiseError', 'check_noise',
           'noise_annotations', 'write_noisy_annotations', 'check_voc_dataset',
           'read_label_list', 'PASCAL_VOC_CLASSES']
