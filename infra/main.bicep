// House-price prediction service: the Functions custom handler on Flex Consumption, the
// actix-web app on a Linux App Service plan, their shared storage account and monitoring.
// Deploy into an existing resource group:
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json
targetScope = 'resourceGroup'

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
    ]
    containerNames: [
      resultsContainerName
      jobInputsContainerName
      // Files to score (score-upload, through infra/events.bicep) and drained poison messages.
      'uploads'
      'poison'
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

module webApp 'modules/webapp.bicep' = {
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

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.name
    functionAppPrincipalId: functionApp.outputs.principalId
    webAppPrincipalId: webApp.outputs.principalId
  }
}

output webAppName string = webApp.outputs.name
output webAppUrl string = 'https://${webApp.outputs.defaultHostName}'
output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output storageAccountName string = storage.outputs.name
