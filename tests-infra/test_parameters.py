"""infra/main.parameters.json and the pipeline's overrides name real main.bicep parameters."""

from __future__ import annotations

import re

from helpers import decorator

BICEP_TYPES = {"string": str, "int": int, "bool": bool, "object": dict, "array": list}


def test_parameters_file_is_a_deployment_parameters_document(parameters_file):
    assert parameters_file["$schema"].endswith("/deploymentParameters.json#")
    assert parameters_file["contentVersion"] == "1.0.0.0"
    assert all(set(entry) == {"value"} for entry in parameters_file["parameters"].values())


def test_every_parameter_in_the_file_is_declared_in_main(parameters_file, main_bicep):
    unknown = set(parameters_file["parameters"]) - set(main_bicep["parameters"])
    assert not unknown, f"not parameters of main.bicep: {sorted(unknown)}"


def test_every_required_main_parameter_has_a_value(parameters_file, main_bicep):
    required = {
        name for name, param in main_bicep["parameters"].items() if param.get("default") is None
    }
    assert required <= set(parameters_file["parameters"])


def test_values_fit_the_declared_types_and_constraints(parameters_file, main_bicep):
    for name, entry in parameters_file["parameters"].items():
        param = main_bicep["parameters"][name]
        value = entry["value"]
        expected = BICEP_TYPES[param["type"]]
        assert isinstance(value, expected) and not (expected is int and isinstance(value, bool)), name
        allowed = decorator(param, "allowed")
        if allowed is not None:
            assert value in allowed, f"{name}={value!r} not in {allowed}"
        low, high = decorator(param, "minValue"), decorator(param, "maxValue")
        if low is not None:
            assert value >= low, name
        if high is not None:
            assert value <= high, name


def test_pipeline_overrides_name_main_parameters(pipeline, main_bicep):
    script = next(
        step["inputs"]["inlineScript"]
        for job in pipeline["stages"][-1]["jobs"]
        if job.get("deployment") == "Infrastructure"
        for step in job["strategy"]["runOnce"]["deploy"]["steps"]
        if step.get("task") == "AzureCLI@2"
    )
    overrides = set(re.findall(r"(\w+)=\"\$\(\w+\)\"", script))
    assert overrides == {
        "webAppName", "functionAppName", "storageAccountName", "webHosting", "registryName", "containerAppName"
    }
    assert overrides <= set(main_bicep["parameters"])
    # The pipeline's values pass the template's own checks.
    for name in overrides:
        param, value = main_bicep["parameters"][name], pipeline["variables"][name]
        allowed = decorator(param, "allowed")
        assert allowed is None or value in allowed, name
        low, high = decorator(param, "minLength"), decorator(param, "maxLength")
        assert (low is None or len(value) >= low) and (high is None or len(value) <= high), name
