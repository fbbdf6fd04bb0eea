"""Fixtures shared by the offline infrastructure tests: parsed Bicep files and the pipeline."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from helpers import INFRA, ROOT, parse_bicep


@pytest.fixture(scope="session")
def main_bicep() -> dict:
    return parse_bicep(INFRA / "main.bicep")


@pytest.fixture(scope="session")
def functionapp_bicep() -> dict:
    return parse_bicep(INFRA / "modules" / "functionapp.bicep")


@pytest.fixture(scope="session")
def webapp_bicep() -> dict:
    return parse_bicep(INFRA / "modules" / "webapp.bicep")


@pytest.fixture(scope="session")
def storage_bicep() -> dict:
    return parse_bicep(INFRA / "modules" / "storage.bicep")


@pytest.fixture(scope="session")
def roles_bicep() -> dict:
    return parse_bicep(INFRA / "modules" / "roles.bicep")


@pytest.fixture(scope="session")
def monitoring_bicep() -> dict:
    return parse_bicep(INFRA / "modules" / "monitoring.bicep")


@pytest.fixture(scope="session")
def containerapp_bicep() -> dict:
    return parse_bicep(INFRA / "modules" / "containerapp.bicep")


@pytest.fixture(scope="session")
def events_bicep() -> dict:
    return parse_bicep(INFRA / "events.bicep")


@pytest.fixture(scope="session")
def parameters_file() -> dict:
    return json.loads((INFRA / "main.parameters.json").read_text())


@pytest.fixture(scope="session")
def pipeline() -> dict:
    return YAML(typ="safe").load((ROOT / "azure-pipelines.yml").read_text())
