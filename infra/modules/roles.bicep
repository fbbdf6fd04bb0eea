// Data-plane roles on the shared storage account for the two system-assigned identities.
// Assignment names are guid(scope, principal, role): deterministic, so redeploying is a no-op.
// The deploying principal needs Owner, User Access Administrator or Role Based Access Control
// Administrator on the resource group to create these.

@description('Storage account the roles are scoped to.')
param storageAccountName string

@description('Principal ID of the function app identity.')
param functionAppPrincipalId string

@description('Principal ID of the App Service web app identity; empty when it is not deployed.')
param webAppPrincipalId string = ''

@description('Principal ID of the container app\'s system-assigned identity; empty when there is none.')
param containerAppPrincipalId string = ''

// Azure built-in role definition IDs (the same in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

// Host storage with an identity needs Blob Data Owner (keys, leases, Flex deployment package).
resource functionBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionAppPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Queue trigger on predict-jobs, enqueue from submit-job, and moving to predict-jobs-poison.
resource functionQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionAppPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The host writes diagnostic events to table storage when AzureWebJobsStorage is set.
resource functionTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionAppPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: functionAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// POST /jobs enqueues on predict-jobs.
resource webQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(webAppPrincipalId)) {
  name: guid(storage.id, webAppPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: webAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// GET /jobs/{id} reads results/{jobId}.json.
resource webBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(webAppPrincipalId)) {
  name: guid(storage.id, webAppPrincipalId, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: webAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The container app runs the same web app: the same two roles.
resource containerQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(containerAppPrincipalId)) {
  name: guid(storage.id, containerAppPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: containerAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource containerBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(containerAppPrincipalId)) {
  name: guid(storage.id, containerAppPrincipalId, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: containerAppPrincipalId
    principalType: 'ServicePrincipal'
  }
}
