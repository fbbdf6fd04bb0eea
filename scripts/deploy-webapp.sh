#!/usr/bin/env bash
# Deploys the actix-web service to Azure App Service (Linux) from the Azure CLI:
# `az webapp up` creates (or updates) the resource group's plan and app, then
# `az webapp deploy` pushes dist/webapp.zip, the prebuilt musl binary and its startup.sh.
# Every step creates or updates in place, so the script is safe to re-run.
# The keyless, full setup (storage, monitoring, function app) is infra/main.bicep.
set -euo pipefail
# shellcheck source=lib/deploy.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/deploy.sh"
# Paths (dist/, --package) are relative to the repository root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  cat <<'EOF'
Usage: scripts/deploy-webapp.sh --name NAME --resource-group RG --location LOCATION [options]

Options (each also read from the environment variable in brackets):
  -n, --name NAME              web app name, globally unique            [WEBAPP_NAME]
  -g, --resource-group RG      resource group, created if missing       [RESOURCE_GROUP]
  -l, --location LOCATION      Azure region                             [LOCATION]
      --sku SKU                App Service plan SKU (default B1)        [WEBAPP_SKU]
      --plan PLAN              plan name (default plan-NAME)            [WEBAPP_PLAN]
      --runtime RUNTIME        host stack for the static binary
                               (default PYTHON:3.12)                    [WEBAPP_RUNTIME]
      --storage-account NAME   storage account (same resource group) for the /jobs
                               endpoints; grants the app's identity its roles [STORAGE_ACCOUNT]
      --package PATH           package to deploy (default dist/webapp.zip) [WEBAPP_PACKAGE]
      --skip-build             do not run `cargo xtask package`
      --dry-run                print the commands instead of running them
  -h, --help                   show this help
EOF
}


name=${WEBAPP_NAME:-}
resource_group=${RESOURCE_GROUP:-}
location=${LOCATION:-}
sku=${WEBAPP_SKU:-B1}
plan=${WEBAPP_PLAN:-}
runtime=${WEBAPP_RUNTIME:-PYTHON:3.12}
storage_account=${STORAGE_ACCOUNT:-}
package=${WEBAPP_PACKAGE:-dist/webapp.zip}
skip_build=false
dry_run=false
# Bounded wait for the first healthy answer: cold start of a new plan takes minutes.
health_attempts=${HEALTH_ATTEMPTS:-30}
health_interval=${HEALTH_INTERVAL:-10}


while [[ $# -gt 0 ]]; do
  case $1 in
    -n | --name) need_value "$@"; name=$2; shift 2 ;;
    -g | --resource-group) need_value "$@"; resource_group=$2; shift 2 ;;
    -l | --location) need_value "$@"; location=$2; shift 2 ;;
    --sku) need_value "$@"; sku=$2; shift 2 ;;
    --plan) need_value "$@"; plan=$2; shift 2 ;;
    --runtime) need_value "$@"; runtime=$2; shift 2 ;;
    --storage-account) need_value "$@"; storage_account=$2; shift 2 ;;
    --package) need_value "$@"; package=$2; shift 2 ;;
    --skip-build) skip_build=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "Unknown argument '$1': see --help." ;;
  esac
done

[[ -n $name ]] || die "Missing the web app name: pass --name or set WEBAPP_NAME."
[[ -n $resource_group ]] || die "Missing the resource group: pass --resource-group or set RESOURCE_GROUP."
[[ -n $location ]] || die "Missing the Azure region: pass --location or set LOCATION."
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$ ]] ||
  die "Web app name '$name' is invalid: use 2-60 letters, digits or hyphens, not starting or ending with a hyphen."
if [[ -n $storage_account && ! $storage_account =~ ^[a-z0-9]{3,24}$ ]]; then
  die "Storage account name '$storage_account' is invalid: use 3-24 lowercase letters and digits."
fi
plan=${plan:-plan-$name}


require_az_login

if ! $skip_build; then
  run cargo xtask package
fi
if ! $dry_run && [[ ! -f $package ]]; then
  die "The package $package does not exist: run 'cargo xtask package' first."
fi

# az webapp up uploads the current folder: give it a folder with a placeholder only, so it
# creates the plan and the app without zipping the repository; the package follows below.
stage=${WEBAPP_STAGE_DIR:-dist/webapp-up}
if $dry_run; then
  printf 'mkdir -p %s\n' "$stage"
else
  mkdir -p "$stage"
  printf 'Placeholder uploaded by az webapp up; az webapp deploy replaces it with %s.\n' \
    "$package" >"$stage/PLACEHOLDER.txt"
fi

run az group create --name "$resource_group" --location "$location" --output none

up=(az webapp up --name "$name" --resource-group "$resource_group" --location "$location"
  --plan "$plan" --sku "$sku" --os-type Linux --runtime "$runtime")
if $dry_run; then
  printf '(cd %s && %s)\n' "$stage" "$(print_cmd "${up[@]}")"
else
  (cd "$stage" && "${up[@]}")
fi

# az webapp up turns remote build on; the package is a prebuilt binary.
run az webapp config appsettings set --name "$name" --resource-group "$resource_group" \
  --settings SCM_DO_BUILD_DURING_DEPLOYMENT=false WEBSITES_PORT=8080 --output none
run az webapp config set --name "$name" --resource-group "$resource_group" \
  --startup-file /home/site/wwwroot/startup.sh --min-tls-version 1.2 --ftps-state Disabled \
  --http20-enabled true --generic-configurations '{"healthCheckPath": "/health"}' --output none
run az webapp update --name "$name" --resource-group "$resource_group" --https-only true --output none

if [[ -n $storage_account ]]; then
  capture PRINCIPAL_ID az webapp identity assign --name "$name" --resource-group "$resource_group" \
    --query principalId --output tsv
  capture STORAGE_ID az storage account show --name "$storage_account" --resource-group "$resource_group" \
    --query id --output tsv
  # Storage Queue Data Contributor (POST /jobs) and Storage Blob Data Contributor (GET /jobs/{id}).
  for role in 974c5e8b-45b9-4653-ba55-5f855dd0fb88 ba92f5b4-2d11-453d-a403-e96b0029c9fe; do
    run az role assignment create --assignee-object-id "$PRINCIPAL_ID" \
      --assignee-principal-type ServicePrincipal --role "$role" --scope "$STORAGE_ID" --output none
  done
  run az webapp config appsettings set --name "$name" --resource-group "$resource_group" --settings \
    "AzureWebJobsStorage__accountName=$storage_account" \
    AzureWebJobsStorage__credential=managedidentity \
    "AzureWebJobsStorage__queueServiceUri=https://$storage_account.queue.core.windows.net" \
    "AzureWebJobsStorage__blobServiceUri=https://$storage_account.blob.core.windows.net" \
    --output none
fi

run az webapp deploy --name "$name" --resource-group "$resource_group" --src-path "$package" --type zip

url="https://$name.azurewebsites.net/health"
until_ok "Web app is up: $url answered 200." \
  "The web app did not answer 200 on $url after $health_attempts tries: see 'az webapp log tail --name $name --resource-group $resource_group'." \
  curl --fail --silent --show-error --max-time 10 --output /dev/null "$url"
