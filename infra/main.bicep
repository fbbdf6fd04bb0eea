// House-price prediction service: the Functions custom handler on Flex Consumption, the
// actix-web app on a Linux App Service plan or as a container on Azure Container Apps (or
// both), their shared storage account and monitoring.
// Deploy into an existing resource group:
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json
// The Container Apps path takes two deployments around an image push: see
// scripts/deploy-containerapp.sh.
targetScope = 'resourceGroup'

@description('Where the web app runs: App Service (a zip, as `az webapp up`), Container Apps (the image), or both.')
@allowed([
  'appService'
  'containerApps'
  'both'
])
param webHosting string = 'appService'

@description('The web app image for Container Apps, <registry login server>/house-price-webapp:<tag>. Empty creates the registry and the environment only, before the first push.')
param containerImage string = ''

@description('Globally unique container registry name (5-50 letters and digits).')
@minLength(5)
@maxLength(50)
param registryName string = 'crhouseprice${uniqueString(resourceGroup().id)}'

@description('Container app name (2-32 lowercase letters, digits and hyphens).')
@minLength(2)
@maxLength(32)
param containerAppName string = 'houseprice-ca-${uniqueString(resourceGroup().id)}'

@description('Most container app replicas under load; idle, it scales to zero.')
@minValue(1)
@maxValue(300)
param containerAppMaxReplicas int = 10

@description('Azure region for every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Globally unique web app name (host name <name>.azurewebsites.net).')
@minLength(2)
@maxLength(60)
param webAppName string = 'houseprice-web-${uniqueString(resourceGroup().id)}'

@description('Globally unique function app name (host name <name>.azurewebsites.net).')
@minLength(2)
@maxLength(60)
param functionAppName string = 'houseprice-func-${uniqueString(resourceGroup().id)}'

@description('Globally unique storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param storageAccountName string = 'sthouse${uniqueString(resourceGroup().id)}'

@description('SKU of the web app\'s Linux App Service plan.')
@allowed([
  'F1'
  'B1'
  'B2'
  'B3'
  'S1'
  'P0V3'
  'P1V3'
])
param webAppSku string = 'B1'

@description('Built-in Linux stack that hosts the static web app binary.')
param webAppLinuxFxVersion string = 'PYTHON|3.12'

@description('Flex Consumption instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param functionInstanceMemoryMB int = 2048

@description('Flex Consumption scale-out limit.')
@minValue(1)
@maxValue(1000)
param functionMaximumInstanceCount int = 100

@description('When the housekeeping timer runs: six-field NCRONTAB, UTC.')
param housekeepingSchedule string = '0 0 3 * * *'

@description('How old a stored blob housekeeping deletes is (d.hh:mm:ss).')
param housekeepingRetention string = '7.00:00:00'

@description('Client ID of an Entra ID app registration: when set, App Service authentication lets only signed-in users and token holders reach the web app (see README). Empty leaves it public.')
param webAppAuthClientId string = ''

@description('Tags applied to every resource.')
param tags object = {
  app: 'house-price'
}

// Names the code depends on (function.json, the storage crate): change them together.
var jobQueueName = 'predict-jobs'
var poisonQueueName = 'predict-jobs-poison'
var resultsContainerName = 'results'
// Rows of jobs too large for one queue message (the claim check).
var jobInputsContainerName = 'job-inputs'
var deploymentContainerName = 'app-package'

var token = uniqueString(resourceGroup().id)
var onAppService = webHosting != 'containerApps'
var onContainerApps = webHosting != 'appService'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    logAnalyticsName: 'log-houseprice-${token}'
    appInsightsName: 'appi-houseprice-${token}'
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    storageAccountName: storageAccountName
    queueNames: [
      jobQueueName
      poisonQueueName
      // Uploads waiting to be scored (queue-upload -> score-upload), and their poison.
      'score-uploads'
      'score-uploads-poison'
    ]
    containerNames: [
      resultsContainerName
      jobInputsContainerName
      // Files to score (queue-upload, through infra/events.bicep), drained poison messages,
      // the locks of uploads being scored, and events Event Grid could not deliver.
      'uploads'
      'poison'
      'locks'
      'eventgrid-deadletter'
      deploymentContainerName
    ]
    tags: tags
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    functionAppName: functionAppName
    planName: 'plan-${functionAppName}'
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    housekeepingSchedule: housekeepingSchedule
    housekeepingRetention: housekeepingRetention
    tags: tags
  }
}

module webApp 'modules/webapp.bicep' = if (onAppService) {
  name: 'webapp'
  params: {
    location: location
    webAppName: webAppName
    planName: 'plan-${webAppName}'
    sku: webAppSku
    linuxFxVersion: webAppLinuxFxVersion
    authClientId: webAppAuthClientId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    tags: tags
  }
}

module registry 'modules/registry.bicep' = if (onContainerApps) {
  name: 'registry'
  params: {
    location: location
    registryName: registryName
    pullIdentityName: 'id-${containerAppName}-pull'
    tags: tags
  }
}

module containerApp 'modules/containerapp.bicep' = if (onContainerApps) {
  name: 'containerapp'
  params: {
    location: location
    environmentName: 'cae-houseprice-${token}'
    containerAppName: containerAppName
    image: containerImage
    registryLoginServer: onContainerApps ? registry.outputs.loginServer : ''
    pullIdentityId: onContainerApps ? registry.outputs.pullIdentityId : ''
    storageAccountName: storage.outputs.name
    logAnalyticsName: monitoring.outputs.logAnalyticsName
    appInsightsName: monitoring.outputs.appInsightsName
    maxReplicas: containerAppMaxReplicas
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.name
    functionAppPrincipalId: functionApp.outputs.principalId
    webAppPrincipalId: onAppService ? webApp.outputs.principalId : ''
    containerAppPrincipalId: onContainerApps ? containerApp.outputs.principalId : ''
  }
}

output webAppName string = onAppService ? webApp.outputs.name : ''
output webAppUrl string = onAppService ? 'https://${webApp.outputs.defaultHostName}' : ''
output registryName string = onContainerApps ? registry.outputs.name : ''
output registryLoginServer string = onContainerApps ? registry.outputs.loginServer : ''
output containerAppName string = onContainerApps ? containerApp.outputs.name : ''
output containerAppUrl string = onContainerApps ? containerApp.outputs.url : ''
output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output storageAccountName string = storage.outputs.name
