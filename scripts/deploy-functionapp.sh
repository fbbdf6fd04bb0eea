#!/usr/bin/env bash
# Deploys the Functions custom handler to a Flex Consumption app from the Azure CLI:
# creates the resource group, storage account, queues, container and app when missing,
# switches host storage to the app's managed identity, then pushes dist/functionapp.zip
# (Flex takes the package through `config-zip`, which the CLI sends to its one-deploy endpoint).
# Every step creates or updates in place, so the script is safe to re-run.
# The keyless, full setup (no shared keys at all, monitoring, web app) is infra/main.bicep.
set -euo pipefail
# shellcheck source=lib/deploy.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/deploy.sh"
# Paths (dist/, --package) are relative to the repository root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  cat <<'EOF'
Usage: scripts/deploy-functionapp.sh --name NAME --resource-group RG --location LOCATION [options]

Options (each also read from the environment variable in brackets):
  -n, --name NAME                 function app name, globally unique     [FUNCTION_APP_NAME]
  -g, --resource-group RG         resource group, created if missing     [RESOURCE_GROUP]
  -l, --location LOCATION         region offering Flex Consumption        [LOCATION]
                                  (az functionapp list-flexconsumption-locations)
      --storage-account NAME      storage account, created if missing
                                  (default: st + the app name's letters and digits) [STORAGE_ACCOUNT]
      --instance-memory MB        512, 2048 or 4096 (default 2048)        [FUNCTION_INSTANCE_MEMORY]
      --maximum-instance-count N  scale-out limit (default 100)           [FUNCTION_MAX_INSTANCES]
      --package PATH              package (default dist/functionapp.zip)  [FUNCTION_PACKAGE]
      --skip-build                do not run `cargo xtask package`
      --dry-run                   print the commands instead of running them
  -h, --help                      show this help
EOF
}


name=${FUNCTION_APP_NAME:-}
resource_group=${RESOURCE_GROUP:-}
location=${LOCATION:-}
storage_account=${STORAGE_ACCOUNT:-}
instance_memory=${FUNCTION_INSTANCE_MEMORY:-2048}
max_instances=${FUNCTION_MAX_INSTANCES:-100}
package=${FUNCTION_PACKAGE:-dist/functionapp.zip}
skip_build=false
dry_run=false
# Bounded wait for the first answer: a new app needs its role assignments to propagate.
smoke_attempts=${SMOKE_ATTEMPTS:-30}
smoke_interval=${SMOKE_INTERVAL:-10}
# A row of the Boston housing data set, in the single-record shape the predict API accepts.
smoke_body='{"CHAS":0,"RM":6.575,"TAX":296,"PTRATIO":15.3,"B":396.9,"LSTAT":4.98}'


while [[ $# -gt 0 ]]; do
  case $1 in
    -n | --name) need_value "$@"; name=$2; shift 2 ;;
    -g | --resource-group) need_value "$@"; resource_group=$2; shift 2 ;;
    -l | --location) need_value "$@"; location=$2; shift 2 ;;
    --storage-account) need_value "$@"; storage_account=$2; shift 2 ;;
    --instance-memory) need_value "$@"; instance_memory=$2; shift 2 ;;
    --maximum-instance-count) need_value "$@"; max_instances=$2; shift 2 ;;
    --package) need_value "$@"; package=$2; shift 2 ;;
    --skip-build) skip_build=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "Unknown argument '$1': see --help." ;;
  esac
done

[[ -n $name ]] || die "Missing the function app name: pass --name or set FUNCTION_APP_NAME."
[[ -n $resource_group ]] || die "Missing the resource group: pass --resource-group or set RESOURCE_GROUP."
[[ -n $location ]] || die "Missing the Azure region: pass --location or set LOCATION."
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$ ]] ||
  die "Function app name '$name' is invalid: use 2-60 letters, digits or hyphens, not starting or ending with a hyphen."
if [[ -z $storage_account ]]; then
  storage_account=$(printf 'st%s' "$name" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9' | cut -c1-24)
fi
[[ $storage_account =~ ^[a-z0-9]{3,24}$ ]] ||
  die "Storage account name '$storage_account' is invalid: use 3-24 lowercase letters and digits."
[[ $instance_memory =~ ^(512|2048|4096)$ ]] ||
  die "Instance memory '$instance_memory' is not offered by Flex Consumption: use 512, 2048 or 4096."
[[ $max_instances =~ ^[0-9]+$ ]] && ((max_instances >= 1 && max_instances <= 1000)) ||
  die "Maximum instance count '$max_instances' is out of range: use a whole number from 1 to 1000."


# unless_exists SHOW... -- CREATE...: runs CREATE only when SHOW fails (the resource is missing).
unless_exists() {
  local show=()
  while [[ $1 != -- ]]; do
    show+=("$1")
    shift
  done
  shift
  if $dry_run; then
    printf '%s 2>/dev/null || %s\n' "$(print_cmd "${show[@]}")" "$(print_cmd "$@")"
  elif ! "${show[@]}" >/dev/null 2>&1; then
    "$@"
  fi
}

require_az_login

if ! $skip_build; then
  run cargo xtask package
fi
if ! $dry_run && [[ ! -f $package ]]; then
  die "The package $package does not exist: run 'cargo xtask package' first."
fi

rg=(--resource-group "$resource_group")
run az group create --name "$resource_group" --location "$location" --output none
unless_exists az storage account show --name "$storage_account" "${rg[@]}" --output none -- \
  az storage account create --name "$storage_account" "${rg[@]}" --location "$location" \
  --sku Standard_LRS --kind StorageV2 --min-tls-version TLS1_2 --allow-blob-public-access false \
  --https-only true --output none
# The names function.json and the storage crate use. `create` is a no-op when they exist.
for queue in predict-jobs predict-jobs-poison; do
  run az storage queue create --name "$queue" --account-name "$storage_account" --auth-mode key --output none
done
for container in results job-inputs uploads poison; do
  run az storage container create --name "$container" --account-name "$storage_account" --auth-mode key --output none
done

# Flex Consumption takes the custom handler stack without a runtime version.
unless_exists az functionapp show --name "$name" "${rg[@]}" --output none -- \
  az functionapp create --name "$name" "${rg[@]}" --storage-account "$storage_account" \
  --flexconsumption-location "$location" --runtime custom \
  --instance-memory "$instance_memory" --maximum-instance-count "$max_instances" --output none

# Host storage and the handler's own queue/blob calls go through the system-assigned identity.
capture PRINCIPAL_ID az functionapp identity assign --name "$name" "${rg[@]}" --query principalId --output tsv
capture STORAGE_ID az storage account show --name "$storage_account" "${rg[@]}" --query id --output tsv
# Storage Blob Data Owner, Storage Queue Data Contributor, Storage Table Data Contributor.
for role in b7e6dc6d-f1e8-4753-8033-0f276bb0955b 974c5e8b-45b9-4653-ba55-5f855dd0fb88 \
  0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3; do
  run az role assignment create --assignee-object-id "$PRINCIPAL_ID" \
    --assignee-principal-type ServicePrincipal --role "$role" --scope "$STORAGE_ID" --output none
done
run az functionapp config appsettings set --name "$name" "${rg[@]}" --settings \
  "AzureWebJobsStorage__accountName=$storage_account" \
  AzureWebJobsStorage__credential=managedidentity \
  "AzureWebJobsStorage__blobServiceUri=https://$storage_account.blob.core.windows.net" \
  "AzureWebJobsStorage__queueServiceUri=https://$storage_account.queue.core.windows.net" \
  "AzureWebJobsStorage__tableServiceUri=https://$storage_account.table.core.windows.net" \
  "HOUSEKEEPING_SCHEDULE=0 0 3 * * *" HOUSEKEEPING_RETENTION=7.00:00:00 \
  --output none
# The key-based connection string `functionapp create` wrote would take precedence: remove it.
run az functionapp config appsettings delete --name "$name" "${rg[@]}" \
  --setting-names AzureWebJobsStorage --output none

run az functionapp deployment source config-zip --name "$name" "${rg[@]}" --src "$package"

capture FUNCTION_KEY az functionapp keys list --name "$name" "${rg[@]}" \
  --query functionKeys.default --output tsv
url="https://$name.azurewebsites.net/api/predict"
probe=(curl --fail --silent --show-error --max-time 30 --request POST
  --header 'Content-Type: application/json' --header "x-functions-key: $FUNCTION_KEY"
  --data "$smoke_body" "$url")
if $dry_run; then
  printf '# until it answers 200, at most %s tries %s s apart:\n' "$smoke_attempts" "$smoke_interval"
  print_cmd "${probe[@]}"
else
  up=false
  for ((attempt = 1; attempt <= smoke_attempts; attempt++)); do
    if answer=$("${probe[@]}" 2>/dev/null); then
      printf 'Function app is up: %s answered %s\n' "$url" "$answer"
      up=true
      break
    fi
    sleep "$smoke_interval"
  done
  $up || die "The function app did not answer 200 on $url after $smoke_attempts tries: check the app's logs in Application Insights (the host may still be waiting for its role assignments)."
fi

# Files dropped into uploads/ reach queue-upload through Event Grid. Only now: the
# subscription needs the function deployed and running (infra/events.bicep says why). Its
# destination is the function, so Event Grid reads the system key itself.
capture FUNCTIONAPP_ID az functionapp show --name "$name" "${rg[@]}" --query id --output tsv
topic="$storage_account-events"
unless_exists az eventgrid system-topic show --name "$topic" "${rg[@]}" --output none -- \
  az eventgrid system-topic create --name "$topic" "${rg[@]}" --location "$location" \
  --topic-type Microsoft.Storage.StorageAccounts --source "$STORAGE_ID" --output none
run az eventgrid system-topic event-subscription create --name score-uploads "${rg[@]}" \
  --system-topic-name "$topic" --endpoint-type azurefunction \
  --endpoint "$FUNCTIONAPP_ID/functions/queue-upload" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with /blobServices/default/containers/uploads/blobs/ \
  --max-events-per-batch 1 --output none
