"""Studies: tables and figures that combine several finished runs to reproduce one paper's
results, apart from the package core (solver, economies, validation), which no study changes.

  davila.py      Davila, Hong, Krusell & Rios-Rull (2012), Table 5 (docs/davila.md)
  investment.py  the investment economy across objectives, nu and N (docs/results.md)
  common.py      what they share (Markdown tables)

Each study has `write(runs, out)`; `python -m deepham.report NAME ...` runs one (deepham/report.py).
"""
