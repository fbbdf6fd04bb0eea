"""scripts/deploy-webapp.sh, scripts/deploy-functionapp.sh and scripts/deploy-containerapp.sh:
their dry runs, their refusal without a usable Azure CLI, and that a real run executes exactly
what the dry run prints.

The real `az` cannot run here (no network, no account), so the last check puts a recording
stand-in named `az` (and `curl`) first on PATH: it answers the few queries whose output the
scripts use and logs every call.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

WEBAPP = ROOT / "scripts" / "deploy-webapp.sh"
FUNCTIONAPP = ROOT / "scripts" / "deploy-functionapp.sh"
CONTAINERAPP = ROOT / "scripts" / "deploy-containerapp.sh"
COMMIT = subprocess.run(
    ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
).stdout.strip()
BASH = "/bin/bash"
SMOKE_BODY = '{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}'
FAKE = {
    "PRINCIPAL_ID": "00000000-0000-0000-0000-00000000abcd",
    "STORAGE_ID": "/subscriptions/s/resourceGroups/rg-test/providers/Microsoft.Storage/storageAccounts/sttest",
    "FUNCTION_KEY": "fake-function-key",
    "FUNCTIONAPP_ID": "/subscriptions/s/resourceGroups/rg-test/providers/Microsoft.Web/sites/hp-func",
    "REGISTRY": "crtest",
    "LOGIN_SERVER": "crtest.azurecr.io",
    "APP_URL": "https://hp-ca.example.swedencentral.azurecontainerapps.io",
}
REGISTRY_TOKEN = "fake-registry-token"
SCRUBBED = ("WEBAPP_", "FUNCTION_", "RESOURCE_GROUP", "LOCATION", "STORAGE_ACCOUNT", "HEALTH_", "SMOKE_",
            "WEB_HOSTING", "IMAGE_ARCHIVE")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env.update(extra)
    return env


def run(script, *args, env=None):
    return subprocess.run(
        [BASH, str(script), *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        timeout=60,
        check=False,
    )


def dry_run_lines(script, *args, env=None):
    result = run(script, *args, "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


WEBAPP_EXPECTED = [
    "cargo xtask package",
    "mkdir -p dist/webapp-up",
    "az group create --name rg-test --location swedencentral --output none",
    "(cd dist/webapp-up && az webapp up --name hp-web --resource-group rg-test --location swedencentral"
    " --plan plan-hp-web --sku B1 --os-type Linux --runtime PYTHON:3.12)",
    "az webapp config appsettings set --name hp-web --resource-group rg-test"
    " --settings SCM_DO_BUILD_DURING_DEPLOYMENT=false WEBSITES_PORT=8080 --output none",
    "az webapp config set --name hp-web --resource-group rg-test --startup-file /home/site/wwwroot/startup.sh"
    " --min-tls-version 1.2 --ftps-state Disabled --http20-enabled true"
    " --generic-configurations '{\"healthCheckPath\": \"/health\"}' --output none",
    "az webapp update --name hp-web --resource-group rg-test --https-only true --output none",
    "az webapp deploy --name hp-web --resource-group rg-test --src-path dist/webapp.zip --type zip",
    "# until it answers 200, at most 30 tries 10 s apart:",
    "curl --fail --silent --show-error --max-time 10 --output /dev/null https://hp-web.azurewebsites.net/health",
]

WEBAPP_STORAGE_LINES = [
    "PRINCIPAL_ID=$(az webapp identity assign --name hp-web --resource-group rg-test --query principalId --output tsv)",
    "STORAGE_ID=$(az storage account show --name sttest --resource-group rg-test --query id --output tsv)",
    'az role assignment create --assignee-object-id "$PRINCIPAL_ID" --assignee-principal-type ServicePrincipal'
    ' --role 974c5e8b-45b9-4653-ba55-5f855dd0fb88 --scope "$STORAGE_ID" --output none',
    'az role assignment create --assignee-object-id "$PRINCIPAL_ID" --assignee-principal-type ServicePrincipal'
    ' --role ba92f5b4-2d11-453d-a403-e96b0029c9fe --scope "$STORAGE_ID" --output none',
    "az webapp config appsettings set --name hp-web --resource-group rg-test --settings"
    " AzureWebJobsStorage__accountName=sttest AzureWebJobsStorage__credential=managedidentity"
    " AzureWebJobsStorage__queueServiceUri=https://sttest.queue.core.windows.net"
    " AzureWebJobsStorage__blobServiceUri=https://sttest.blob.core.windows.net --output none",
]

FUNCTIONAPP_EXPECTED = [
    "cargo xtask package",
    "az group create --name rg-test --location swedencentral --output none",
    "az storage account show --name sttest --resource-group rg-test --output none 2>/dev/null"
    " || az storage account create --name sttest --resource-group rg-test --location swedencentral"
    " --sku Standard_LRS --kind StorageV2 --min-tls-version TLS1_2 --allow-blob-public-access false"
    " --https-only true --output none",
    "az storage queue create --name predict-jobs --account-name sttest --auth-mode key --output none",
    "az storage queue create --name predict-jobs-poison --account-name sttest --auth-mode key --output none",
    "az storage container create --name results --account-name sttest --auth-mode key --output none",
    "az storage container create --name job-inputs --account-name sttest --auth-mode key --output none",
    "az storage container create --name uploads --account-name sttest --auth-mode key --output none",
    "az storage container create --name poison --account-name sttest --auth-mode key --output none",
    "az functionapp show --name hp-func --resource-group rg-test --output none 2>/dev/null"
    " || az functionapp create --name hp-func --resource-group rg-test --storage-account sttest"
    " --flexconsumption-location swedencentral --runtime custom --instance-memory 2048"
    " --maximum-instance-count 100 --output none",
    "PRINCIPAL_ID=$(az functionapp identity assign --name hp-func --resource-group rg-test --query principalId --output tsv)",
    "STORAGE_ID=$(az storage account show --name sttest --resource-group rg-test --query id --output tsv)",
    'az role assignment create --assignee-object-id "$PRINCIPAL_ID" --assignee-principal-type ServicePrincipal'
    ' --role b7e6dc6d-f1e8-4753-8033-0f276bb0955b --scope "$STORAGE_ID" --output none',
    'az role assignment create --assignee-object-id "$PRINCIPAL_ID" --assignee-principal-type ServicePrincipal'
    ' --role 974c5e8b-45b9-4653-ba55-5f855dd0fb88 --scope "$STORAGE_ID" --output none',
    'az role assignment create --assignee-object-id "$PRINCIPAL_ID" --assignee-principal-type ServicePrincipal'
    ' --role 0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3 --scope "$STORAGE_ID" --output none',
    "az functionapp config appsettings set --name hp-func --resource-group rg-test --settings"
    " AzureWebJobsStorage__accountName=sttest AzureWebJobsStorage__credential=managedidentity"
    " AzureWebJobsStorage__blobServiceUri=https://sttest.blob.core.windows.net"
    " AzureWebJobsStorage__queueServiceUri=https://sttest.queue.core.windows.net"
    " AzureWebJobsStorage__tableServiceUri=https://sttest.table.core.windows.net"
    " 'HOUSEKEEPING_SCHEDULE=0 0 3 * * *' HOUSEKEEPING_RETENTION=7.00:00:00 --output none",
    "az functionapp config appsettings delete --name hp-func --resource-group rg-test"
    " --setting-names AzureWebJobsStorage --output none",
    "az functionapp deployment source config-zip --name hp-func --resource-group rg-test --src dist/functionapp.zip",
    "FUNCTION_KEY=$(az functionapp keys list --name hp-func --resource-group rg-test"
    " --query functionKeys.default --output tsv)",
    "# until it answers 200, at most 30 tries 10 s apart:",
    "curl --fail --silent --show-error --max-time 30 --request POST --header 'Content-Type: application/json'"
    ' --header "x-functions-key: $FUNCTION_KEY"'
    f" --data '{SMOKE_BODY}' https://hp-func.azurewebsites.net/api/predict",
    # Event Grid validates the webhook on creation: only after the code answers.
    "FUNCTIONAPP_ID=$(az functionapp show --name hp-func --resource-group rg-test --query id --output tsv)",
    "az eventgrid system-topic show --name sttest-events --resource-group rg-test --output none 2>/dev/null"
    " || az eventgrid system-topic create --name sttest-events --resource-group rg-test --location swedencentral"
    ' --topic-type Microsoft.Storage.StorageAccounts --source "$STORAGE_ID" --output none',
    "az eventgrid system-topic event-subscription create --name score-uploads --resource-group rg-test"
    " --system-topic-name sttest-events --endpoint-type azurefunction"
    ' --endpoint "$FUNCTIONAPP_ID/functions/queue-upload"'
    " --included-event-types Microsoft.Storage.BlobCreated"
    " --subject-begins-with /blobServices/default/containers/uploads/blobs/ --max-events-per-batch 1 --output none",
]

IMAGE = f"house-price-webapp:{COMMIT}"
DEPLOY = ("az deployment group create --resource-group rg-test --template-file infra/main.bicep"
          " --parameters infra/main.parameters.json webHosting=containerApps")
CONTAINERAPP_EXPECTED = [
    "cargo xtask image",
    *(f"az provider register --namespace {namespace} --wait" for namespace in (
        "Microsoft.App", "Microsoft.ContainerRegistry", "Microsoft.ManagedIdentity",
        "Microsoft.OperationalInsights", "Microsoft.Insights", "Microsoft.Storage", "Microsoft.Web",
    )),
    "az group create --name rg-test --location swedencentral --output none",
    # The registry and the environment first; the app needs the image pushed in between.
    f"REGISTRY=$({DEPLOY} --name houseprice-registry --query properties.outputs.registryName.value --output tsv)",
    'LOGIN_SERVER=$(az acr show --name "$REGISTRY" --query loginServer --output tsv)',
    'az acr login --name "$REGISTRY" --expose-token --query accessToken --output tsv'
    ' | skopeo login --username 00000000-0000-0000-0000-000000000000 --password-stdin "$LOGIN_SERVER"',
    f'skopeo copy oci-archive:dist/webapp-image.oci.tar:{IMAGE} "docker://$LOGIN_SERVER/{IMAGE}"',
    # Its own --parameters: the Azure CLI gives --parameters only the words right after it.
    f"APP_URL=$({DEPLOY} --parameters \"containerImage=$LOGIN_SERVER/{IMAGE}\""
    " --name houseprice-containerapp --query properties.outputs.containerAppUrl.value --output tsv)",
    "# until it answers 200, at most 30 tries 10 s apart:",
    'curl --fail --silent --show-error --max-time 10 --output /dev/null "$APP_URL/health"',
]
CONTAINER_ARGS = ("--resource-group", "rg-test", "--location", "swedencentral")

WEB_ARGS = ("--name", "hp-web", "--resource-group", "rg-test", "--location", "swedencentral")
FUNC_ARGS = ("--name", "hp-func", "--resource-group", "rg-test", "--location", "swedencentral",
             "--storage-account", "sttest")


def test_webapp_dry_run_prints_the_exact_commands_in_order():
    assert dry_run_lines(WEBAPP, *WEB_ARGS) == WEBAPP_EXPECTED


def test_webapp_dry_run_with_storage_grants_roles_and_sets_identity_settings_before_deploying():
    lines = dry_run_lines(WEBAPP, *WEB_ARGS, "--storage-account", "sttest")
    deploy = WEBAPP_EXPECTED.index(
        "az webapp deploy --name hp-web --resource-group rg-test --src-path dist/webapp.zip --type zip"
    )
    assert lines == WEBAPP_EXPECTED[:deploy] + WEBAPP_STORAGE_LINES + WEBAPP_EXPECTED[deploy:]


def test_webapp_reads_names_from_the_environment_and_honours_sku_and_runtime():
    env = clean_env(WEBAPP_NAME="hp-web", RESOURCE_GROUP="rg-test", LOCATION="swedencentral")
    assert dry_run_lines(WEBAPP, env=env) == WEBAPP_EXPECTED
    lines = dry_run_lines(WEBAPP, *WEB_ARGS, "--sku", "P0V3", "--runtime", "NODE:22-lts", "--skip-build")
    assert lines[0] == "mkdir -p dist/webapp-up"
    assert "--sku P0V3 --os-type Linux --runtime NODE:22-lts)" in lines[2]


def test_functionapp_dry_run_prints_the_exact_commands_in_order():
    assert dry_run_lines(FUNCTIONAPP, *FUNC_ARGS) == FUNCTIONAPP_EXPECTED


def test_containerapp_dry_run_prints_the_exact_commands_in_order():
    assert dry_run_lines(CONTAINERAPP, *CONTAINER_ARGS) == CONTAINERAPP_EXPECTED


def stray_words(argv):
    """Words of an `az` call that no option takes: as the Azure CLI parses them, where
    `--parameters` takes every word up to the next option and other options one word each."""
    stray, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--parameters":
            i += 1
            while i < len(argv) and not argv[i].startswith("--"):
                i += 1
        elif word.startswith("--"):
            i += 2 if i + 1 < len(argv) and not argv[i + 1].startswith("--") else 1
        else:
            stray.append(word)
            i += 1
    return stray


@pytest.mark.parametrize("script,args", [(CONTAINERAPP, CONTAINER_ARGS), (FUNCTIONAPP, FUNC_ARGS), (WEBAPP, WEB_ARGS)])
def test_every_deployment_parameter_follows_parameters(script, args):
    calls = calls_from_dry_run(dry_run_lines(script, *args))
    deployments = [c for c in calls if c[:4] == ["az", "deployment", "group", "create"]]
    assert deployments or script != CONTAINERAPP
    for call in deployments:
        assert stray_words(call[4:]) == [], call
    # The check itself catches a parameter after another option.
    assert stray_words(["--parameters", "f.json", "a=1", "--name", "n", "b=2"]) == ["b=2"]


def test_containerapp_keeps_app_service_too_when_asked_and_reads_the_environment():
    env = clean_env(RESOURCE_GROUP="rg-test", LOCATION="swedencentral", WEB_HOSTING="both")
    lines = dry_run_lines(CONTAINERAPP, "--skip-build", env=env)
    both = [line.replace("webHosting=containerApps", "webHosting=both") for line in CONTAINERAPP_EXPECTED[1:]]
    assert lines == both


def test_functionapp_derives_a_valid_storage_account_name_from_the_app_name():
    lines = dry_run_lines(FUNCTIONAPP, "-n", "House-Price-Func-01", "-g", "rg-test", "-l", "eastus")
    assert lines[2].startswith("az storage account show --name sthousepricefunc01 ")
    lines = dry_run_lines(FUNCTIONAPP, "-n", "a" * 40, "-g", "rg-test", "-l", "eastus")
    assert lines[2].startswith(f"az storage account show --name st{'a' * 22} ")


@pytest.mark.parametrize(
    "script,args,message",
    [
        (WEBAPP, ("--resource-group", "rg", "--location", "eastus"), "Missing the web app name"),
        (WEBAPP, ("--name", "hp-web", "--location", "eastus"), "Missing the resource group"),
        (FUNCTIONAPP, ("--name", "hp-func", "--resource-group", "rg"), "Missing the Azure region"),
        (WEBAPP, (*WEB_ARGS, "--bogus"), "Unknown argument '--bogus'"),
        (WEBAPP, ("--name",), "Option --name needs a value"),
        (WEBAPP, ("--name", "bad-", "-g", "rg", "-l", "eastus"), "Web app name 'bad-' is invalid"),
        (FUNCTIONAPP, (*FUNC_ARGS, "--instance-memory", "1024"), "Instance memory '1024' is not offered"),
        (FUNCTIONAPP, (*FUNC_ARGS, "--maximum-instance-count", "0"), "Maximum instance count '0' is out of range"),
        (FUNCTIONAPP, ("-n", "hp-func", "-g", "rg", "-l", "eastus", "--storage-account", "Bad_Name"),
         "Storage account name 'Bad_Name' is invalid"),
        (CONTAINERAPP, ("--location", "eastus"), "Missing the resource group"),
        (CONTAINERAPP, ("-g", "rg"), "Missing the Azure region"),
        (CONTAINERAPP, (*CONTAINER_ARGS, "--hosting", "appService"), "Hosting 'appService' is not offered here"),
        (CONTAINERAPP, (*CONTAINER_ARGS, "--archive"), "Option --archive needs a value"),
    ],
)
def test_bad_arguments_fail_with_one_sentence(script, args, message):
    result = run(script, *args, "--dry-run")
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def bin_dir(tmp_path: Path, *tools: str) -> Path:
    """A PATH directory holding only the named system tools (no az)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in tools:
        source = next(Path(p) / tool for p in ("/usr/bin", "/bin") if (Path(p) / tool).exists())
        (directory / tool).symlink_to(source)
    return directory


@pytest.mark.parametrize("script,args", [(WEBAPP, WEB_ARGS), (FUNCTIONAPP, FUNC_ARGS), (CONTAINERAPP, CONTAINER_ARGS)])
def test_without_az_on_path_the_script_stops_with_one_sentence(tmp_path, script, args):
    path = bin_dir(tmp_path, "dirname", "tr", "cut")
    result = run(script, *args, env=clean_env(PATH=str(path)))
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "The Azure CLI (az) is not on PATH: install it (https://aka.ms/azure-cli) "
        "or use --dry-run to print the commands."
    ]


@pytest.mark.parametrize("script,args", [(WEBAPP, WEB_ARGS), (FUNCTIONAPP, FUNC_ARGS), (CONTAINERAPP, CONTAINER_ARGS)])
def test_when_az_is_not_logged_in_the_script_says_so_and_runs_nothing_else(tmp_path, script, args):
    path = bin_dir(tmp_path, "dirname", "tr", "cut")
    log = tmp_path / "az.log"
    fake = path / "az"
    # What `az account show` does without a login: a message on stderr and exit status 1.
    fake.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$*\" >> '{log}'\n"
        "echo \"Please run 'az login' to setup account.\" >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    result = run(script, *args, env=clean_env(PATH=str(path)))
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "The Azure CLI is not logged in: run 'az login' (and 'az account set --subscription ...') first."
    ]
    assert log.read_text().splitlines() == ["account show --output none"]


RECORDER = """#!{python}
import json, os, sys
args = sys.argv[1:]
# A piped login reads its stdin to the end first, so the writer is always logged before it.
if os.path.basename(sys.argv[0]) == "skopeo" and "--password-stdin" in args:
    with open(os.environ["RECORD_LOG"] + ".stdin", "a") as stdin:
        stdin.write(sys.stdin.read())
with open(os.environ["RECORD_LOG"], "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0])] + args) + "\\n")
if os.path.basename(sys.argv[0]) == "curl":
    print('{{"prices":[30.1]}}')
    sys.exit(0)
if os.path.basename(sys.argv[0]) == "skopeo":
    sys.exit(0)
# Existence checks report "missing" so that the create branch runs.
if args[-2:] == ["--output", "none"] and "show" in args and "--query" not in args and args[0] != "account":
    sys.exit(3)
answers = {{"principalId": {principal!r}, "id": {storage!r}, "functionKeys.default": {key!r},
           "properties.outputs.registryName.value": {registry!r}, "loginServer": {login_server!r},
           "accessToken": {token!r}, "properties.outputs.containerAppUrl.value": {app_url!r}}}
if "--query" in args:
    query = args[args.index("--query") + 1]
    print({functionapp!r} if (args[0], query) == ("functionapp", "id") else answers[query])
sys.exit(0)
"""


def calls_from_dry_run(lines):
    """The argv lists a dry run's printed lines stand for, placeholders filled in."""
    calls = []
    for line in lines:
        if line.startswith("#") or line.startswith("mkdir -p "):
            continue
        if line.startswith("(cd "):
            line = line.split(" && ", 1)[1].removesuffix(")")
        if "=$(" in line.split(" ", 1)[0]:
            line = line.split("=$(", 1)[1].removesuffix(")")
        for part in line.replace(" | ", " 2>/dev/null || ").split(" 2>/dev/null || "):
            argv = shlex.split(part)
            calls.append([FAKE_SUB(a) for a in argv])
    return calls


def FAKE_SUB(arg):  # noqa: N802 - reads as the placeholder it replaces
    for name, value in FAKE.items():
        arg = arg.replace(f"${name}", value)
    return arg


@pytest.mark.parametrize("script,args", [
    (WEBAPP, WEB_ARGS + ("--storage-account", "sttest")),
    (FUNCTIONAPP, FUNC_ARGS),
    (CONTAINERAPP, CONTAINER_ARGS),
])
def test_a_real_run_executes_exactly_what_the_dry_run_prints(tmp_path, script, args):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    recorder = RECORDER.format(
        python=sys.executable,
        principal=FAKE["PRINCIPAL_ID"],
        storage=FAKE["STORAGE_ID"],
        key=FAKE["FUNCTION_KEY"],
        functionapp=FAKE["FUNCTIONAPP_ID"],
        registry=FAKE["REGISTRY"],
        login_server=FAKE["LOGIN_SERVER"],
        token=REGISTRY_TOKEN,
        app_url=FAKE["APP_URL"],
    )
    for tool in ("az", "curl", "skopeo"):
        (bindir / tool).write_text(recorder)
        (bindir / tool).chmod(0o755)
    package = tmp_path / "package.zip"
    package.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip archive
    log = tmp_path / "calls.jsonl"
    env = clean_env(
        PATH=f"{bindir}:{os.environ['PATH']}",
        RECORD_LOG=str(log),
        WEBAPP_STAGE_DIR=str(tmp_path / "stage"),
    )
    option = "--archive" if script == CONTAINERAPP else "--package"
    full_args = (*args, "--skip-build", option, str(package))

    expected = calls_from_dry_run(dry_run_lines(script, *full_args, env=env))
    result = run(script, *full_args, env=env)
    assert result.returncode == 0, result.stderr
    recorded = [json.loads(line) for line in log.read_text().splitlines()]
    assert recorded[0] == ["az", "account", "show", "--output", "none"]
    assert recorded[1:] == expected
    if script == WEBAPP:
        assert (tmp_path / "stage" / "PLACEHOLDER.txt").is_file()
    if script == CONTAINERAPP:
        # The registry token went to skopeo through its stdin, not its arguments.
        assert (tmp_path / "calls.jsonl.stdin").read_text().strip() == REGISTRY_TOKEN
        assert not any(REGISTRY_TOKEN in arg for call in recorded for arg in call)
