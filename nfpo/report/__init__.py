"""Reports: learning curves (PNG) and a Markdown summary of one or more runs."""

from nfpo.report.summary import make_report, run_summary

__all__ = ["make_report", "run_summary"]
