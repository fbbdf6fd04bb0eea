#!/usr/bin/env bash
# Deploys the web app as a container on Azure Container Apps, from an empty subscription:
# infra/main.bicep makes the registry, the environment and the rest of the service (storage,
# monitoring, the function app), the image `cargo xtask image` wrote is pushed to the registry
# with skopeo (no Docker daemon), and a second deployment of the same template starts the
# container app on that image. Every step creates or updates in place: safe to re-run.
# The function app's code goes with scripts/deploy-functionapp.sh or the pipeline.
set -euo pipefail
# shellcheck source=lib/deploy.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/deploy.sh"
# Paths (dist/, infra/) are relative to the repository root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/deploy-containerapp.sh --resource-group RG --location LOCATION [options]

Options (each also read from the environment variable in brackets):
  -g, --resource-group RG      resource group, created if missing       [RESOURCE_GROUP]
  -l, --location LOCATION      Azure region                             [LOCATION]
      --hosting HOSTING        containerApps, or both to keep the App
                               Service web app too (default containerApps) [WEB_HOSTING]
      --archive PATH           image archive (default dist/webapp-image.oci.tar) [IMAGE_ARCHIVE]
      --skip-build             do not run `cargo xtask image`
      --dry-run                print the commands instead of running them
  -h, --help                   show this help
EOF_USAGE
}

resource_group=${RESOURCE_GROUP:-}
location=${LOCATION:-}
hosting=${WEB_HOSTING:-containerApps}
archive=${IMAGE_ARCHIVE:-dist/webapp-image.oci.tar}
skip_build=false
dry_run=false
# A new environment's first replica takes a minute or two to pull and start.
health_attempts=${HEALTH_ATTEMPTS:-30}
health_interval=${HEALTH_INTERVAL:-10}

while [[ $# -gt 0 ]]; do
  case $1 in
    -g | --resource-group) need_value "$@"; resource_group=$2; shift 2 ;;
    -l | --location) need_value "$@"; location=$2; shift 2 ;;
    --hosting) need_value "$@"; hosting=$2; shift 2 ;;
    --archive) need_value "$@"; archive=$2; shift 2 ;;
    --skip-build) skip_build=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "Unknown argument '$1': see --help." ;;
  esac
done

[[ -n $resource_group ]] || die "Missing the resource group: pass --resource-group or set RESOURCE_GROUP."
[[ -n $location ]] || die "Missing the Azure region: pass --location or set LOCATION."
[[ $hosting == containerApps || $hosting == both ]] ||
  die "Hosting '$hosting' is not offered here: use containerApps or both (App Service alone is scripts/deploy-webapp.sh)."

require_az_login
if ! $dry_run; then
  command -v skopeo >/dev/null 2>&1 ||
    die "skopeo is not on PATH: install it (Debian and Ubuntu: apt-get install skopeo) to push the image, or use --dry-run."
fi

# The archive's references are house-price-webapp:<version> and house-price-webapp:<commit>;
# the registry gets the commit's, so every push is a new, immutable tag.
commit=$(git rev-parse HEAD 2>/dev/null) ||
  die "Cannot read the git commit the image is tagged with: run this from a clone of the repository."
image=house-price-webapp:$commit

if ! $skip_build; then
  run cargo xtask image
fi
if ! $dry_run && [[ ! -f $archive ]]; then
  die "The image archive $archive does not exist: run 'cargo xtask image' first."
fi

# A new subscription knows none of these yet; registering is a no-op once done.
for namespace in Microsoft.App Microsoft.ContainerRegistry Microsoft.ManagedIdentity \
  Microsoft.OperationalInsights Microsoft.Insights Microsoft.Storage Microsoft.Web; do
  run az provider register --namespace "$namespace" --wait
done
run az group create --name "$resource_group" --location "$location" --output none

deployment=(az deployment group create --resource-group "$resource_group"
  --template-file infra/main.bicep --parameters infra/main.parameters.json "webHosting=$hosting")
# First the registry and the environment (with no image yet, the app waits).
capture REGISTRY "${deployment[@]}" --name houseprice-registry \
  --query properties.outputs.registryName.value --output tsv
capture LOGIN_SERVER az acr show --name "$REGISTRY" --query loginServer --output tsv

# A registry token through stdin: never in the process list, never on disk for long.
login=(az acr login --name "$REGISTRY" --expose-token --query accessToken --output tsv)
skopeo_login=(skopeo login --username 00000000-0000-0000-0000-000000000000 --password-stdin "$LOGIN_SERVER")
if $dry_run; then
  printf '%s | %s\n' "$(print_cmd "${login[@]}")" "$(print_cmd "${skopeo_login[@]}")"
else
  "${login[@]}" | "${skopeo_login[@]}"
fi
run skopeo copy "oci-archive:$archive:$image" "docker://$LOGIN_SERVER/$image"

# Then the app on the pushed image.
# (`--parameters` takes only the words right after it: the image gets its own.)
capture APP_URL "${deployment[@]}" --parameters "containerImage=$LOGIN_SERVER/$image" \
  --name houseprice-containerapp --query properties.outputs.containerAppUrl.value --output tsv

until_ok "The container app is up: $APP_URL/health answered 200." \
  "The container app did not answer 200 on $APP_URL/health after $health_attempts tries: see 'az containerapp logs show --resource-group $resource_group --name <containerAppName output>'." \
  curl --fail --silent --show-error --max-time 10 --output /dev/null "$APP_URL/health"
