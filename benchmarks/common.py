"""Shared helpers of the benchmark scripts: environment description and JSON output."""

import json
import os
import platform
import resource

import tensorflow as tf


def machine() -> dict:
  return dict(machine=f'{platform.machine()}, {os.cpu_count()} cores',
              tensorflow=tf.__version__,
              devices=[d.name for d in tf.config.list_logical_devices()])


def peak_memory_gb() -> float:
  """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def emit(result: dict) -> None:
  """Prints one machine-readable line."""
  print(json.dumps({**result, **machine()}), flush=True)
