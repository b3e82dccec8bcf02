"""The benchmark scripts run and print their JSON line (timings are never asserted)."""

import json
import os
import subprocess
import sys

from tests import conftest


def test_scaling_script_prints_one_figure_line_per_n():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  out = subprocess.run([sys.executable, 'benchmarks/scaling.py', '--n_agents=4',
                        '--variant=tiny', '--steps=1', '--periods=20'],
                       cwd=conftest.REPO, env=env, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith('{')]
  assert len(lines) == 1
  result = lines[0]
  assert 'error' not in result, result.get('error')
  assert result['n_agents'] == 4
  for key in ('seconds_per_step', 'compile_seconds', 'ms_per_period', 'peak_memory_gb'):
    assert result[key] > 0, key
