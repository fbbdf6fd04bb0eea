"""Helpers to read pycep-parser's JSON form of Bicep files.

pycep renders an identifier and a string literal alike (`name: storageAccountName` and
`name: 'x'` both become a Python str), so tests compare literals where the template has
literals and use `dotted()` for references such as `functionApp.outputs.principalId`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Iterator

from pycep import BicepParser

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Built-in role definition IDs, as published in the Azure built-in roles reference.
ROLE_IDS = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
}


@functools.cache
def parse_bicep(path: Path) -> dict:
    return BicepParser().parse(file_path=path)


def dotted(node: Any) -> str:
    """`a.b.c` for a property-access chain, the string itself for a name or literal."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "operator" in node:
        op = node["operator"]
        if op.get("type") == "property_accessor":
            return f"{dotted(op['operands']['operand_1'])}.{dotted(op['operands']['operand_2'])}"
    if isinstance(node, dict) and "function" in node:
        return f"{node['function']['type']}()"
    raise AssertionError(f"not a reference: {node!r}")


def body(entry: dict) -> dict:
    """A resource's or module's properties, inside its `if (...)` when it has one."""
    config = entry["config"]
    return config["config"] if "condition" in config else config


def condition(entry: dict) -> Any:
    """The `if (...)` of a resource or module, None when it is always deployed."""
    return entry["config"].get("condition")


def ternary(node: Any) -> tuple[Any, Any, Any]:
    """(condition, then, else) of `c ? a : b`."""
    assert isinstance(node, dict) and node.get("operator", {}).get("type") == "conditional", node
    operands = node["operator"]["operands"]
    return operands["condition"], operands["true_value"], operands["false_value"]


def resources_of_type(parsed: dict, resource_type: str) -> dict[str, dict]:
    return {
        name: res
        for name, res in parsed.get("resources", {}).items()
        if res["type"] == resource_type
    }


def only_resource(parsed: dict, resource_type: str) -> dict:
    found = resources_of_type(parsed, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))


def app_settings(site: dict) -> dict[str, Any]:
    settings = site["config"]["properties"]["siteConfig"]["appSettings"]
    names = [s["name"] for s in settings]
    assert len(names) == len(set(names)), f"duplicate app settings: {names}"
    return {s["name"]: s["value"] for s in settings}


def decorator(param: dict, kind: str) -> Any:
    for d in param.get("decorators", []):
        if d["type"] == kind:
            return d["argument"]
    return None


def walk_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_strings(value)
