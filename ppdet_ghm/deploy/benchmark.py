"""Timing a deployed model as PaddleDetection's deploy benchmark does:
warm-up runs, then preprocessing, inference and postprocessing timed
separately, reported per image."""
import statistics

__all__ = ['time_predictor']


def time_predictor(predictor, images, batch_size=1, warmup=3, repeats=10):
    """Run ``images`` (in batches) ``warmup`` times untimed, then
    ``repeats`` times; returns a one-line report of the median ms per image
    of each stage and their sum."""
    batches = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
    for _ in range(warmup):
        for batch in batches:
            predictor.predict(batch)
    for values in predictor.timings.values():
        values.clear()
    for _ in range(repeats):
        for batch in batches:
            predictor.predict(batch)
    per_image = {key: 1000 * statistics.median(values) / len(batches[0])
                 for key, values in predictor.timings.items()}
    return ('{} image(s), batch {}, {} runs after {} warm-up: ms per image '
            'preprocess {:.2f} / inference {:.2f} / postprocess {:.2f} '
            '(total {:.2f})'.format(
                len(images), batch_size, repeats, warmup,
                per_image['preprocess'], per_image['inference'],
                per_image['postprocess'], sum(per_image.values())))
