"""Cross-run analysis of pbrl sweeps: reads run directories (or W&B runs), never training code.

`python -m pbrl.analysis.report runs/<name> baseline=reward=accuracy` writes the per-language accuracy
and language-fidelity tables (Markdown, LaTeX, CSV) and the reward-curve and per-language plots.
"""
