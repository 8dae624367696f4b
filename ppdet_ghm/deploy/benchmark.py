"""Timing a deployed model as PaddleDetection's deploy benchmark does:
warm-up runs, then preprocessing, inference and postprocessing timed
separately, reported per image; and several routes (runtime, oneDNN, NMS
in or after the program) and thread counts timed side by side, in rounds,
so that a slower or busier moment of the machine falls on all of them."""
import statistics

from .infer_config import DeployError
from .predictor import DeployPredictor, OnnxPredictor

__all__ = ['time_predictor', 'stage_ms', 'ROUTES', 'route_predictor',
           'time_routes']

STAGES = ('preprocess', 'inference', 'postprocess')

# route -> (which export, what runs it); 'with_nms': tools/export_model.py,
# 'without_nms': tools/export_model.py --onnx (program without NMS and
# model.onnx; NMS in numpy after it, timed as postprocessing)
ROUTES = {
    'paddle': ('with_nms', 'Paddle Inference, oneDNN, NMS in the program'),
    'paddle_no_onednn': ('with_nms', 'Paddle Inference without oneDNN, NMS in '
                         'the program'),
    'paddle_without_nms': ('without_nms', 'Paddle Inference, oneDNN, NMS in '
                           'numpy after it'),
    'onnxruntime': ('without_nms', 'ONNX Runtime, NMS in numpy after it'),
}


def stage_ms(predictor, images, batch_size=1, warmup=3, repeats=10):
    """Run ``images`` (in batches) ``warmup`` times untimed, then
    ``repeats`` times; returns ``{stage: median ms per image}`` for
    ``preprocess``, ``inference``, ``postprocess``."""
    batches = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
    for _ in range(warmup):
        for batch in batches:
            predictor.predict(batch)
    for values in predictor.timings.values():
        values.clear()
    for _ in range(repeats):
        for batch in batches:
            predictor.predict(batch)
    return {key: 1000 * statistics.median(predictor.timings[key]) / len(batches[0])
            for key in STAGES}


def time_predictor(predictor, images, batch_size=1, warmup=3, repeats=10):
    """:func:`stage_ms` as a one-line report (and their sum)."""
    ms = stage_ms(predictor, images, batch_size, warmup, repeats)
    return ('{} image(s), batch {}, {} runs after {} warm-up: ms per image '
            'preprocess {:.2f} / inference {:.2f} / postprocess {:.2f} '
            '(total {:.2f})'.format(len(images), batch_size, repeats, warmup,
                                    ms['preprocess'], ms['inference'],
                                    ms['postprocess'], sum(ms.values())))


def route_predictor(route, model_dirs, cpu_threads, profile=False):
    """The predictor of ``route`` (a key of :data:`ROUTES`) on the CPU.

    Args:
        model_dirs (dict): ``{'with_nms': folder, 'without_nms': folder}``;
            a route whose folder is missing is refused by name.
        profile (bool): a Paddle route with Paddle's profiler on.
    """
    if route not in ROUTES:
        raise DeployError('--routes: expected some of {}, got {!r}'.format(
            ', '.join(ROUTES), route))
    export = ROUTES[route][0]
    folder = model_dirs.get(export)
    if not folder:
        raise DeployError('route {} needs the export {} ({})'.format(
            route, 'without NMS (--onnx_model_dir, from tools/export_model.py '
            '--onnx)' if export == 'without_nms' else 'with NMS (--model_dir)',
            ROUTES[route][1]))
    if route == 'onnxruntime':
        return OnnxPredictor(folder, cpu_threads)
    return DeployPredictor(folder, 'cpu', cpu_threads,
                           onednn=route != 'paddle_no_onednn', profile=profile)


def time_routes(routes, thread_counts, model_dirs, images, rounds=3, warmup=2,
                repeats=5, progress=None):
    """Every route at every thread count, side by side: ``rounds`` times,
    each (route, threads) in turn runs ``warmup`` + ``repeats`` passes over
    ``images``; a stage's figure is the median over rounds of the per-round
    medians.

    Returns:
        list of dicts, one per (threads, route) in that order: ``route``,
        ``threads``, ``ms`` (stage -> ms per image), ``total_ms``,
        ``rounds_total_ms`` (each round's total, to see the spread).
    """
    predictors = {(t, r): route_predictor(r, model_dirs, t)
                  for t in thread_counts for r in routes}
    per_round = {key: [] for key in predictors}
    for round_index in range(rounds):
        for key, predictor in predictors.items():
            per_round[key].append(stage_ms(predictor, images, 1, warmup, repeats))
            if progress:
                progress('round {}/{}: {} at {} thread(s): {:.2f} ms'.format(
                    round_index + 1, rounds, key[1], key[0],
                    sum(per_round[key][-1].values())))
    rows = []
    for (threads, route), measured in per_round.items():
        ms = {s: statistics.median(m[s] for m in measured) for s in STAGES}
        rows.append({'route': route, 'threads': threads, 'ms': ms,
                     'total_ms': sum(ms.values()),
                     'rounds_total_ms': [sum(m.values()) for m in measured]})
    return rows
