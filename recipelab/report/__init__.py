"""HTML report of a run: one self-contained file with plots (``recipelab report RUN_ID``)."""

from recipelab.report.html import SECTIONS, render_report, write_report

__all__ = ["SECTIONS", "render_report", "write_report"]
