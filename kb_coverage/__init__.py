"""KB coverage analytics: which cases no runbook covers, grouped into gaps.

Entry point: `kb_coverage.report.build_report(index, since=, until=, config=, events=)`
returns a `CoverageReport` (pydantic, dashboard-ready); `kb_coverage.export` writes it as
JSON or CSV. Modules: matching (best runbook and its score), history (what agents did on
similar resolved cases), assessment (the covered decision), calibration (threshold on
labelled queries), clustering and labels (gap clusters, c-TF-IDF), trends, spikes, utility.
"""
