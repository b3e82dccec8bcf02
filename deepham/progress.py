"""Progress lines with rate and ETA for long phases, through absl logging."""

import time

from absl import logging


def _fmt(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f'{h}h{m:02d}m{s:02d}s' if h else f'{m}m{s:02d}s'


class Progress:
  """Logs `name: done/total (pct), rate, ETA` at most every `every` seconds and at the end."""

  def __init__(self, name: str, total: int, start: int = 0, every: float = 30.0, unit='it'):
    self.name, self.total, self.start, self.every, self.unit = name, total, start, every, unit
    self.t0 = self.last = time.time()

  def update(self, done: int, extra: str = '') -> None:
    now = time.time()
    if now - self.last < self.every and done < self.total:
      return
    self.last = now
    rate = (done - self.start) / max(now - self.t0, 1e-9)
    eta = (self.total - done) / rate if rate > 0 else float('inf')
    logging.info('%s: %d/%d (%.0f%%), %.3g %s/s, elapsed %s, ETA %s%s', self.name, done,
                 self.total, 100 * done / max(self.total, 1), rate, self.unit,
                 _fmt(now - self.t0), _fmt(eta) if eta != float('inf') else '?',
                 f', {extra}' if extra else '')
