"""A measurement in a fresh Python process (for per-process memory, or for devices that must be
set up before TensorFlow starts): the parent scripts stay free of TensorFlow."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_HEADER = f'''
import json, os, sys
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, {REPO!r})
'''


def run(code: str) -> tuple[dict | None, str]:
  """Runs `code` (after a header that puts the repository on sys.path) in a new interpreter;
  returns (the last JSON line it printed, or None; the end of its stderr)."""
  out = subprocess.run([sys.executable, '-c', _HEADER + code], capture_output=True, text=True,
                       check=False)
  lines = [line for line in out.stdout.splitlines() if line.startswith('{')]
  return (json.loads(lines[-1]) if lines and not out.returncode else None), out.stderr[-2000:]
