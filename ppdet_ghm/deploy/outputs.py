"""Writing deployed detections: a JSON file and a drawn image per image."""
import json
import os

import cv2
import numpy as np

__all__ = ['detections_json', 'write_outputs']


def detections_json(detections, label_list, threshold):
    """A JSON-ready dict of one image's detections scoring >= ``threshold``:
    ``{'image', 'detections': [{'label', 'class_id', 'score', 'box'}]}``
    with ``box`` x1, y1, x2, y2 in pixels."""
    keep = detections.scores >= threshold
    return {'image': detections.image, 'detections': [
        {'class_id': int(c), 'label': label_list[int(c)] if 0 <= c < len(label_list)
         else str(int(c)), 'score': float(s), 'box': [float(v) for v in b]}
        for c, s, b in zip(detections.labels[keep], detections.scores[keep],
                           detections.boxes[keep])]}


def write_outputs(detections, label_list, threshold, output_dir):
    """``<output_dir>/<name>.json`` and ``<output_dir>/<name>`` (the image
    with its boxes drawn); returns both paths."""
    os.makedirs(output_dir, exist_ok=True)
    name = os.path.basename(detections.image)
    record = detections_json(detections, label_list, threshold)
    json_path = os.path.join(output_dir, os.path.splitext(name)[0] + '.json')
    with open(json_path, 'w') as f:
        json.dump(record, f, indent=1)
    image = cv2.imread(detections.image, cv2.IMREAD_COLOR)
    for det in record['detections']:
        x1, y1, x2, y2 = (int(round(v)) for v in det['box'])
        colour = tuple(int(v) for v in np.random.default_rng(
            det['class_id']).integers(64, 256, 3))
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(image, '{} {:.2f}'.format(det['label'], det['score']),
                    (x1, max(y1 - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
    image_path = os.path.join(output_dir, name)
    cv2.imwrite(image_path, image)
    return json_path, image_path
