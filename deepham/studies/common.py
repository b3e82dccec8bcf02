"""What every study shares: tables written as Markdown beside their CSV."""

import numpy as np
import pandas as pd


def markdown(table: pd.DataFrame, fmt: str = '{:.3f}') -> str:
  """A pipe table of a DataFrame (empty cells for NaN)."""
  cell = lambda v: '' if isinstance(v, float) and np.isnan(v) else (
      fmt.format(v) if isinstance(v, (float, np.floating)) else str(v))
  lines = ['| | ' + ' | '.join(table.columns) + ' |',
           '|---' * (len(table.columns) + 1) + '|']
  lines += [f'| {idx} | ' + ' | '.join(cell(v) for v in row) + ' |'
            for idx, row in zip(table.index, table.to_numpy())]
  return '\n'.join(lines) + '\n'
