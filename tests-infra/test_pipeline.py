"""Facts about azure-pipelines.yml beyond its schema (which validate-infra.sh checks)."""

from __future__ import annotations

import re
import subprocess
import sys

from helpers import ROOT

PREDEFINED = ("Build.", "Pipeline.", "Agent.", "System.", "Environment.")


def stage(pipeline, name):
    return next(s for s in pipeline["stages"] if s["stage"] == name)


def steps_of(job):
    if "deployment" in job:
        return job["strategy"]["runOnce"]["deploy"]["steps"]
    return job["steps"]


def all_steps(pipeline):
    for s in pipeline["stages"]:
        for job in s["jobs"]:
            yield from steps_of(job)


def tasks(pipeline, name):
    return [step for step in all_steps(pipeline) if step.get("task") == name]


def scripts(stage_):
    return [step["script"] for job in stage_["jobs"] for step in steps_of(job) if "script" in step]


def test_runs_on_pushes_and_pull_requests_to_main(pipeline):
    assert pipeline["trigger"]["branches"]["include"] == ["main"]
    assert pipeline["pr"]["branches"]["include"] == ["main"]


def test_stages_run_in_order(pipeline):
    names = [s["stage"] for s in pipeline["stages"]]
    assert names == ["Lint", "Test", "Package", "Deploy"]
    for before, after in zip(names, names[1:]):
        assert stage(pipeline, after)["dependsOn"] == before


def test_lint_runs_fmt_clippy_validation_and_audit(pipeline):
    text = "\n".join(scripts(stage(pipeline, "Lint")))
    assert "cargo fmt --all -- --check" in text
    assert "cargo clippy --workspace --all-targets -- -D warnings" in text
    assert "./scripts/validate-infra.sh" in text
    assert "cargo audit" in text


def test_test_stage_runs_the_readme_command_and_always_publishes_junit(pipeline):
    test_stage = stage(pipeline, "Test")
    assert "./scripts/test.sh" in scripts(test_stage)
    publish = [
        step for job in test_stage["jobs"] for step in job["steps"] if step.get("task") == "PublishTestResults@2"
    ]
    assert len(publish) == 1
    assert publish[0]["condition"] == "succeededOrFailed()"
    assert publish[0]["inputs"]["testResultsFormat"] == "JUnit"
    assert publish[0]["inputs"]["testResultsFiles"] == "target/nextest/ci/junit.xml"


def test_package_publishes_both_zips_and_the_image(pipeline):
    package = stage(pipeline, "Package")
    assert scripts(package)[-2:] == ["cargo xtask package", "cargo xtask image --skip-build"]
    published = {
        step["inputs"]["targetPath"]: step["inputs"]["artifact"]
        for job in package["jobs"]
        for step in job["steps"]
        if step.get("task") == "PublishPipelineArtifact@1"
    }
    assert published == {
        "dist/functionapp.zip": "functionapp",
        "dist/webapp.zip": "webapp",
        "dist/webapp-image.oci.tar": "webapp-image",
    }


def test_cargo_is_cached_in_every_build_stage(pipeline):
    for name in ("Lint", "Test", "Package"):
        caches = [s for job in stage(pipeline, name)["jobs"] for s in job["steps"] if s.get("task") == "Cache@2"]
        assert any(c["inputs"]["path"] == "$(CARGO_HOME)" for c in caches), name
        assert all("Cargo.lock" in c["inputs"]["key"] for c in caches), name


def test_deploy_runs_only_for_main_in_deployment_jobs_bound_to_an_environment(pipeline):
    deploy = stage(pipeline, "Deploy")
    condition = deploy["condition"]
    assert "succeeded()" in condition
    assert "eq(variables['Build.SourceBranch'], 'refs/heads/main')" in condition
    deployments = [job for job in deploy["jobs"] if "deployment" in job]
    assert {job["deployment"] for job in deployments} == {
        "Infrastructure", "FunctionApp", "Events", "WebApp", "ContainerImage"
    }
    for job in deployments:
        assert job["environment"] == "${{ variables.environmentName }}"


def test_infrastructure_is_built_previewed_then_deployed(pipeline):
    (cli,) = [
        step
        for job in stage(pipeline, "Deploy")["jobs"]
        if job.get("deployment") == "Infrastructure"
        for step in steps_of(job)
        if step.get("task") == "AzureCLI@2"
    ]
    script = cli["inputs"]["inlineScript"]
    build = script.index("az bicep build --file infra/main.bicep")
    what_if = script.index("az deployment group what-if")
    create = script.index("az deployment group create")
    assert build < what_if < create
    assert "--template-file infra/main.bicep" in script
    assert "--parameters infra/main.parameters.json" in script


def test_function_app_is_deployed_as_flex_consumption(pipeline):
    (task,) = tasks(pipeline, "AzureFunctionApp@2")
    inputs = task["inputs"]
    assert inputs["appType"] == "functionAppLinux"
    assert inputs["isFlexConsumption"] is True
    assert inputs["appName"] == "$(functionAppName)"
    assert inputs["package"] == "$(Pipeline.Workspace)/functionapp/functionapp.zip"
    assert inputs["connectedServiceNameARM"] == "${{ variables.azureServiceConnection }}"


def test_web_app_is_deployed_with_its_startup_command(pipeline):
    (task,) = tasks(pipeline, "AzureWebApp@1")
    inputs = task["inputs"]
    assert inputs["appType"] == "webAppLinux"
    assert inputs["startUpCommand"] == "/home/site/wwwroot/startup.sh"
    assert inputs["package"] == "$(Pipeline.Workspace)/webapp/webapp.zip"
    assert inputs["appName"] == "$(webAppName)"


def test_the_event_subscription_is_deployed_after_the_function_code(pipeline):
    deploy = stage(pipeline, "Deploy")
    events = next(job for job in deploy["jobs"] if job.get("deployment") == "Events")
    assert events["dependsOn"] == "FunctionApp"
    script = events["strategy"]["runOnce"]["deploy"]["steps"][1]["inputs"]["inlineScript"]
    assert "--template-file infra/events.bicep" in script


def deployment(pipeline, name):
    return next(job for job in stage(pipeline, "Deploy")["jobs"] if job.get("deployment") == name)


def test_web_hosting_defaults_to_app_service_and_picks_the_jobs_that_run(pipeline):
    assert pipeline["variables"]["webHosting"] == "appService"
    assert deployment(pipeline, "WebApp")["condition"] == (
        "and(succeeded(), ne(variables['webHosting'], 'containerApps'))"
    )
    image = deployment(pipeline, "ContainerImage")
    assert "ne(variables['webHosting'], 'appService')" in image["condition"]
    # Its first run redeploys main.bicep: not while the other apps' jobs still deploy.
    assert image["dependsOn"] == ["Infrastructure", "FunctionApp", "Events", "WebApp"]
    assert "in(dependencies.WebApp.result, 'Succeeded', 'Skipped')" in image["condition"]
    for job in ("Infrastructure", "FunctionApp", "Events"):
        assert f"eq(dependencies.{job}.result, 'Succeeded')" in image["condition"], job
    (cli,) = [s for s in steps_of(deployment(pipeline, "Infrastructure")) if s.get("task") == "AzureCLI@2"]
    script = cli["inputs"]["inlineScript"]
    for param in ('webHosting="$(webHosting)"', 'registryName="$(registryName)"',
                  'containerAppName="$(containerAppName)"', 'containerImage="$image"'):
        assert param in script


def test_the_image_is_pushed_as_built_then_rolled_out_or_created(pipeline):
    job = deployment(pipeline, "ContainerImage")
    steps = steps_of(job)
    assert {"download": "current", "artifact": "webapp-image"} in steps
    push, roll, create = [s for s in steps if s.get("task") in ("AzureCLI@2", "AzureContainerApps@1")]
    script = push["inputs"]["inlineScript"]
    assert "--expose-token" in script and "--password-stdin" in script
    assert (
        '"oci-archive:$(Pipeline.Workspace)/webapp-image/webapp-image.oci.tar:house-price-webapp:$(Build.SourceVersion)"'
        in script
    )
    assert '"docker://$(imageRepository):$(Build.SourceVersion)"' in script
    assert pipeline["variables"]["imageRepository"] == "$(registryName).azurecr.io/house-price-webapp"
    assert roll["task"] == "AzureContainerApps@1"
    assert roll["inputs"] == {
        "azureSubscription": "${{ variables.azureServiceConnection }}",
        "resourceGroup": "$(resourceGroup)",
        "containerAppName": "$(containerAppName)",
        "imageToDeploy": "$(imageRepository):$(Build.SourceVersion)",
    }
    assert "eq(variables['containerAppExists'], 'true')" in roll["condition"]
    assert "eq(variables['containerAppExists'], 'false')" in create["condition"]
    first = create["inputs"]["inlineScript"]
    assert "--template-file infra/main.bicep" in first
    assert 'containerImage="$(imageRepository):$(Build.SourceVersion)"' in first


def test_smoke_test_checks_web_health_and_function_predict_with_a_key(pipeline):
    smoke = next(job for job in stage(pipeline, "Deploy")["jobs"] if job.get("job") == "SmokeTest")
    assert set(smoke["dependsOn"]) == {"FunctionApp", "WebApp", "ContainerImage"}
    # A hosting that was not chosen is skipped, and that must not skip the smoke test.
    assert "in(dependencies.WebApp.result, 'Succeeded', 'Skipped')" in smoke["condition"]
    assert "in(dependencies.ContainerImage.result, 'Succeeded', 'Skipped')" in smoke["condition"]
    script = next(s["inputs"]["inlineScript"] for s in smoke["steps"] if s.get("task") == "AzureCLI@2")
    assert "https://$(webAppName).azurewebsites.net/health" in script
    assert '"https://${fqdn}/predict"' in script
    assert "az functionapp keys list" in script
    assert "https://$(functionAppName).azurewebsites.net/api/predict" in script
    assert "x-functions-key" in script


def test_every_macro_variable_is_defined_or_predefined(pipeline):
    text = (ROOT / "azure-pipelines.yml").read_text()
    defined = set(pipeline["variables"])
    used = set(re.findall(r"\$\(([A-Za-z_][\w.]*)\)", text)) | set(
        re.findall(r"\$\{\{\s*variables\.(\w+)\s*\}\}", text)
    )
    undefined = {v for v in used if v not in defined and not v.startswith(PREDEFINED)}
    assert not undefined, f"undefined pipeline variables: {sorted(undefined)}"
    for name in (
        "azureServiceConnection",
        "resourceGroup",
        "location",
        "webAppName",
        "functionAppName",
        "storageAccountName",
        "environmentName",
    ):
        assert name in defined


def run_schema(path):
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--regex-variant", "nonunicode",
         "--builtin-schema", "vendor.azure-pipelines", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_schema_accepts_the_pipeline_and_rejects_a_misspelt_task_input(tmp_path):
    assert run_schema(ROOT / "azure-pipelines.yml").returncode == 0
    # The schema lists each task's inputs: an alias or a typo must fail validation.
    text = (ROOT / "azure-pipelines.yml").read_text()
    broken = tmp_path / "azure-pipelines.yml"
    broken.write_text(text.replace("isFlexConsumption: true", "isFlexConsumptionPlan: true", 1))
    assert run_schema(broken).returncode != 0
    broken.write_text(text.replace("startUpCommand:", "startupCommand:", 1))
    assert run_schema(broken).returncode != 0
    broken.write_text(text.replace("imageToDeploy:", "image:", 1))
    assert run_schema(broken).returncode != 0

