"""Forward to benchmarks/loss_benchmark.py (same flags): forward+backward
time of GHM-C / GHM-R against PaddleDetection's losses.  See
benchmarks/README.md."""
import os
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                      'benchmarks', 'loss_benchmark.py')

if __name__ == '__main__':  # the script imports its sibling modules
    os.execv(sys.executable, [sys.executable, SCRIPT] + sys.argv[1:])
