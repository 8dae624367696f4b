"""Forward to benchmarks/detector_benchmark.py (same flags): training step,
inference and peak memory of GHM RetinaNet against PaddleDetection's
RetinaNet.  See benchmarks/README.md."""
import os
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                      'benchmarks', 'detector_benchmark.py')

if __name__ == '__main__':  # the script imports its sibling modules
    os.execv(sys.executable, [sys.executable, SCRIPT] + sys.argv[1:])
