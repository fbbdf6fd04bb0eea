// The actix-web service on a Linux App Service plan. App Service has no Rust stack, so the
// site runs a built-in stack image only as a Linux host for the static musl binary: the
// startup command replaces the stack's own entry point and nothing of the stack is used.

@description('Azure region.')
param location string

@description('Globally unique web app name (host name <name>.azurewebsites.net).')
param webAppName string

@description('Name of the Linux App Service plan.')
param planName string

@description('App Service plan SKU (B1 is the smallest with Always On).')
param sku string = 'B1'

// PYTHON|3.12 is a small, long-supported Linux image; any Linux stack would run the static
// binary equally well. Must match the az webapp up --runtime of scripts/deploy-webapp.sh.
@description('Built-in Linux stack that hosts the binary.')
param linuxFxVersion string = 'PYTHON|3.12'

@description('Storage account that holds the job queue and the results container.')
param storageAccountName string

@description('Application Insights component that receives telemetry.')
param appInsightsName string

@description('Tags applied to every resource.')
param tags object = {}

// App Service authentication (Easy Auth) in front of the whole app: set the client ID of an
// Entra ID app registration and only signed-in users (the page) or callers with a token for
// api://<client ID> (programs) reach it. Empty leaves the app public, with only its per-client
// rate limits on the job routes.
@description('Client ID of the Entra ID app registration that signs users in; empty leaves the app public.')
param authClientId string = ''

@description('Tenant of that app registration.')
param authTenantId string = tenant().tenantId

var storageSuffix = environment().suffixes.storage
// Free and Shared tiers cannot keep the app loaded.
var alwaysOn = !contains([
  'F1'
  'FREE'
  'D1'
  'SHARED'
], toUpper(sku))

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: sku
  }
  properties: {
    reserved: true
  }
}

resource webApp 'Microsoft.Web/sites@2024-11-01' = {
  name: webAppName
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: linuxFxVersion
      // startup.sh execs the webapp binary next to it.
      appCommandLine: '/home/site/wwwroot/startup.sh'
      healthCheckPath: '/health'
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      alwaysOn: alwaysOn
      appSettings: [
        // The package is a prebuilt binary: Oryx must not try to build it.
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'false'
        }
        // The binary listens on $PORT, defaulting to 8080; tell the platform which port to route to.
        {
          name: 'WEBSITES_PORT'
          value: '8080'
        }
        // Same setting names as the function app, so one storage configuration serves both.
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
          value: appInsights.properties.ConnectionString
        }
      ]
    }
  }
}

resource authSettings 'Microsoft.Web/sites/config@2024-11-01' = if (!empty(authClientId)) {
  parent: webApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      // People on the page are sent to sign in; programs send a bearer token for
      // api://<client ID> (`az account get-access-token --resource api://<client ID>`).
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      // The platform's health check carries no token.
      excludedPaths: [
        '/health'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: true
      }
    }
  }
}

output name string = webApp.name
output defaultHostName string = webApp.properties.defaultHostName
output principalId string = webApp.identity.principalId
