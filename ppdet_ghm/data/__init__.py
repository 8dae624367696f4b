"""Data helpers: the deterministic demo detection dataset (COCO format)."""
from .demo_dataset import CLASSES, generate_demo_dataset

__all__ = ['CLASSES', 'generate_demo_dataset']
