"""The Prefect artifacts of a preference build come from DuckDB aggregates, never from the version's rows, and
show exactly what the report's summary would (reports/artifacts.py, reports/summary.py:preference_brief)."""

import pytest

import prefsynth.reports.page as page
from prefsynth.reports.artifacts import publish_version_artifacts
from prefsynth.reports.summary import markdown
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.versions import get_version
from tests.builds import build_example

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.mark.parametrize("example, name", [("dry_run.yaml", "dry-run"), ("jury_dry_run.yaml", "jury-dry-run")])
def test_artifacts_show_the_report_summary_without_reading_the_rows(tmp_path, monkeypatch, example, name):
    build_example(tmp_path, example)
    with Catalog(tmp_path / "c.duckdb", read_only=True) as cat:
        version = get_version(cat, name)
        report = page.build_summary(cat, version)

        def rows_read(*_):
            raise AssertionError("the artifacts read the version's rows into Python")

        monkeypatch.setattr(page, "preference_data", rows_read)
        published = publish_version_artifacts(cat, version)
    assert published is not None, "publishing failed (see the warning logged)"
    assert published["headline"] == report["headline"] and published["longer_won"] == report["longer_won"]
    assert markdown(published) == markdown(report)
    assert report["longer_won"]["pairs"]["decided"] > 0 and report["longer_won"]["by_judge"]
