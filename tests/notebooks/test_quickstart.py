"""The quick-start notebook runs end to end (shortened schedule), so it
cannot rot."""
import base64
import os

import nbformat
from nbclient import NotebookClient
from tiny_demo import tiny_model_options

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TINY = ' '.join(tiny_model_options() + [
    'TrainReader.batch_size=2', 'EvalReader.batch_size=2', 'log_iter=1',
    'snapshot_epoch=1', 'GHMRetinaPostProcess.score_threshold=0.0'])


def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv('GHM_NB_EPOCHS', '1')
    monkeypatch.setenv('GHM_NB_NUM_TRAIN', '6')
    monkeypatch.setenv('GHM_NB_NUM_VAL', '4')
    monkeypatch.setenv('GHM_NB_DATA', str(tmp_path / 'data'))
    monkeypatch.setenv('GHM_NB_OUT', str(tmp_path / 'out'))
    monkeypatch.setenv('GHM_NB_EXTRA', TINY)
    nb = nbformat.read(os.path.join(ROOT, 'notebooks', 'ghm_quickstart.ipynb'), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name='python3',
                   resources={'metadata': {'path': os.path.join(ROOT, 'notebooks')}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == 'code' for o in cell.outputs]
    text = ''.join(o.get('text', '') for o in outputs)
    assert 'GHM modules registered: True' in text
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in text
    pngs = [o['data']['image/png'] for o in outputs if 'image/png' in o.get('data', {})]
    assert pngs and base64.b64decode(pngs[-1])[:4] == b'\x89PNG'
    assert os.path.isfile(tmp_path / 'out' / 'detections.png')
    # section 6: the seeded comparison ran every run and wrote its table
    with open(tmp_path / 'out' / 'study' / 'results.md') as f:
        assert '4 of 4 runs finished' in f.read()
    assert '| GHM-C + GHM-R | 2 |' in ''.join(
        o.get('data', {}).get('text/markdown', '') for o in outputs)
