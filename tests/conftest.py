"""Session-wide guards: every test runs air-gapped, as the app does."""

from __future__ import annotations

import pytest

from core import netguard


@pytest.fixture(autouse=True, scope="session")
def _air_gapped() -> None:
    netguard.install()
