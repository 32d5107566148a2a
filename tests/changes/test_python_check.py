"""The system check on the Python that parses uploads (CVE-2024-6232): reported with its mitigation,
refused when the pax header bound is raised past what an unfixed tarfile parses quickly."""

from __future__ import annotations

import pytest
from django.core.checks import ERROR, INFO, Tags, run_checks

from clusters.approvals import checks

UNFIXED = [(3, 11, 7), (3, 11, 9), (3, 12, 5), (3, 10, 14), (3, 9, 19), (3, 8, 19)]
FIXED = [(3, 11, 10), (3, 12, 6), (3, 10, 15), (3, 9, 20), (3, 8, 20), (3, 13, 0), (3, 14, 1)]


@pytest.mark.parametrize("version", UNFIXED)
def test_an_unfixed_python_is_reported_with_the_mitigation(monkeypatch, version):
    monkeypatch.setattr(checks, "version_info", (*version, "final", 0))
    [message] = checks.check_tarfile_cve()
    assert message.level == INFO and message.id == "approvals.I001"
    assert "CVE-2024-6232" in message.msg and "over 8,192 bytes are refused before tarfile" in message.msg
    assert "child process with 60 s of CPU and 512 MiB of memory" in message.msg


@pytest.mark.parametrize("version", FIXED)
def test_a_fixed_python_is_not_reported(monkeypatch, settings, version):
    monkeypatch.setattr(checks, "version_info", (*version, "final", 0))
    settings.ARCHIVE_MAX_HEADER_BYTES = 1 << 20
    assert checks.check_tarfile_cve() == []


def test_a_raised_header_bound_on_an_unfixed_python_is_an_error(monkeypatch, settings):
    monkeypatch.setattr(checks, "version_info", (3, 11, 9, "final", 0))
    settings.ARCHIVE_MAX_HEADER_BYTES = checks.UNFIXED_SAFE_HEADER_BYTES
    assert [m.level for m in checks.check_tarfile_cve()] == [INFO]
    settings.ARCHIVE_MAX_HEADER_BYTES = checks.UNFIXED_SAFE_HEADER_BYTES + 1
    [message] = checks.check_tarfile_cve()
    assert message.level == ERROR and message.id == "approvals.E001"


def test_the_check_is_registered(monkeypatch, settings):
    monkeypatch.setattr(checks, "version_info", (3, 11, 9, "final", 0))
    settings.ARCHIVE_MAX_HEADER_BYTES = 1 << 20
    assert "approvals.E001" in {m.id for m in run_checks(tags=[Tags.security])}
