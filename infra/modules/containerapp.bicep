// The web app's image on Azure Container Apps: a Consumption environment and an app that
// scales to zero and out on HTTP concurrency, probed on /health, pulling from the registry
// with a user-assigned identity (AcrPull) and reaching storage with its system-assigned one,
// under the same settings and roles as the App Service web app.
//
// The app needs an image in the registry, which the first deployment has only just created:
// with `image` empty this module makes the environment alone; once the image is pushed, the
// next deployment (scripts/deploy-containerapp.sh, the pipeline's image job) makes the app.

@description('Azure region.')
param location string

@description('Name of the Container Apps environment.')
param environmentName string

@description('Name of the container app (2-32 lowercase letters, digits and hyphens).')
param containerAppName string

@description('The web app image, <login server>/house-price-webapp:<tag>; empty makes the environment only.')
param image string = ''

@description('Login server of the registry the image is pulled from.')
param registryLoginServer string

@description('Resource ID of the user-assigned identity with AcrPull on that registry.')
param pullIdentityId string

@description('Storage account that holds the job queue and the results container.')
param storageAccountName string

@description('Log Analytics workspace that receives the environment\'s logs.')
param logAnalyticsName string

@description('Application Insights component that receives telemetry.')
param appInsightsName string

@description('Most replicas under load.')
@minValue(1)
@maxValue(300)
param maxReplicas int = 10

@description('Concurrent requests per replica before another is added.')
@minValue(1)
param concurrentRequests int = 100

@description('Tags applied to every resource.')
param tags object = {}

// The port the image declares (PORT=8080); ingress, probes and the app agree on it.
var port = 8080
var storageSuffix = environment().suffixes.storage

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    // Logs go through the diagnostic setting below, so no workspace key is handed over.
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: managedEnvironment
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource containerApp 'Microsoft.App/containerApps@2024-03-01' = if (!empty(image)) {
  name: containerAppName
  location: location
  tags: tags
  identity: {
    // System-assigned: storage, as the App Service web app. User-assigned: the image pull.
    type: 'SystemAssigned,UserAssigned'
    userAssignedIdentities: {
      '${pullIdentityId}': {}
    }
  }
  properties: {
    environmentId: managedEnvironment.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: port
        transport: 'auto'
        allowInsecure: false
      }
      registries: [
        {
          server: registryLoginServer
          identity: pullIdentityId
        }
      ]
      secrets: [
        {
          name: 'appinsights-connection-string'
          value: appInsights.properties.ConnectionString
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'webapp'
          image: image
          resources: {
            cpu: json('0.25')
            memory: '0.5Gi'
          }
          env: [
            {
              name: 'PORT'
              value: string(port)
            }
            // Same setting names as the App Service web app and the function app.
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
              value: 'https://${storageAccountName}.blob.${storageSuffix}'
            }
            {
              name: 'AzureWebJobsStorage__queueServiceUri'
              value: 'https://${storageAccountName}.queue.${storageSuffix}'
            }
            {
              name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
              secretRef: 'appinsights-connection-string'
            }
          ]
          probes: [
            {
              type: 'Startup'
              httpGet: {
                path: '/health'
                port: port
              }
              // Container Apps allows at most 10 failures; 10 x 2 s is ample for a 10 ms start.
              periodSeconds: 2
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              httpGet: {
                path: '/health'
                port: port
              }
              periodSeconds: 10
            }
            {
              type: 'Readiness'
              httpGet: {
                path: '/health'
                port: port
              }
              periodSeconds: 5
            }
          ]
        }
      ]
      scale: {
        // Scale to zero when idle; one replica per `concurrentRequests` in flight.
        minReplicas: 0
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-concurrency'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequests)
              }
            }
          }
        ]
      }
    }
  }
}

output environmentName string = managedEnvironment.name
output name string = empty(image) ? '' : containerApp.name
output url string = empty(image) ? '' : 'https://${containerApp.properties.configuration.ingress.fqdn}'
output principalId string = empty(image) ? '' : containerApp.identity.principalId
