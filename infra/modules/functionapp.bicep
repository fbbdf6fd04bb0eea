// The Functions custom handler on a Flex Consumption plan (Linux only, one app per plan).
// Flex declares the runtime in functionAppConfig.runtime and the package location in
// functionAppConfig.deployment; the app settings FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and WEBSITE_CONTENT* are deprecated
// there and are deliberately absent (see "Flex Consumption plan deprecations" in the
// Functions app settings reference).

@description('Azure region; must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
param location string

@description('Globally unique function app name.')
param functionAppName string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Storage account used as host storage, for the job queue and for deployment packages.')
param storageAccountName string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Application Insights component that receives telemetry.')
param appInsightsName string

@description('Memory of each instance in MB; CPU and network scale with it.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on scale-out.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('When the housekeeping timer runs: six-field NCRONTAB, UTC (default daily at 03:00).')
param housekeepingSchedule string = '0 0 3 * * *'

@description('How old a blob of results/, job-inputs/ or uploads/ housekeeping deletes is (a .NET time span, d.hh:mm:ss).')
param housekeepingRetention string = '7.00:00:00'

@description('Tags applied to every resource.')
param tags object = {}

// Built from the name (not primaryEndpoints) so the URIs carry no trailing slash.
var storageSuffix = environment().suffixes.storage
var blobServiceUri = 'https://${storageAccountName}.blob.${storageSuffix}'
var queueServiceUri = 'https://${storageAccountName}.queue.${storageSuffix}'
var tableServiceUri = 'https://${storageAccountName}.table.${storageSuffix}'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-11-01' = {
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // ftpsState is left out: Flex apps have no FTP endpoint to disable.
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [
        // Host storage through the system-assigned identity: no connection string, no key.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: blobServiceUri
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: queueServiceUri
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: tableServiceUri
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        // The housekeeping function's timerTrigger reads %HOUSEKEEPING_SCHEDULE%: the host
        // does not load the function without it.
        {
          name: 'HOUSEKEEPING_SCHEDULE'
          value: housekeepingSchedule
        }
        {
          name: 'HOUSEKEEPING_RETENTION'
          value: housekeepingRetention
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobServiceUri}/${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      // The custom-handler stack: the host starts the executable named in host.json.
      runtime: {
        name: 'custom'
        version: '1.0'
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
    }
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output principalId string = functionApp.identity.principalId
