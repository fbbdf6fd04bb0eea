// The container registry the web app's image is pushed to, and the user-assigned identity the
// container app pulls it with. The identity exists before the app does, so its AcrPull role is
// in place when the first revision pulls: no admin user, no passwords, no pull secret.

@description('Azure region.')
param location string

@description('Globally unique registry name (5-50 letters and digits).')
param registryName string

@description('Name of the identity that pulls images.')
param pullIdentityName string

@description('Tags applied to every resource.')
param tags object = {}

// AcrPull, a built-in role (the same ID in every tenant).
var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: {
    // Basic: 10 GiB of storage, plenty for a 4.4 MB image and its history.
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource pullIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: pullIdentityName
  location: location
  tags: tags
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, pullIdentity.id, acrPullRoleId)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    principalId: pullIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
output pullIdentityId string = pullIdentity.id
