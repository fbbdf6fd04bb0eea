// Files dropped into the `uploads` container reach the `queue-upload` function: an Event Grid
// system topic on the storage account, and a subscription to its BlobCreated events under
// uploads/, delivered to the function. `queue-upload` answers at once with a message on the
// `score-uploads` queue, and `score-upload` scores the file from there: Event Grid waits only
// 30 s for an answer, and delivers again after that.
//
// An event that is never answered with success is retried on Event Grid's schedule (10 s,
// 30 s, 1 min, 5 min, ... then every 12 h) for 30 attempts or a day, whichever ends first,
// then written to the `eventgrid-deadletter` container (as
// `<SUBSCRIPTION>/<yyyy>/<M>/<d>/<H>/<guid>.json`), where the topic's own identity may write.
//
// The destination is the function itself (`AzureFunction`), not a `WebHook` URL: Event Grid then
// calls the host's Event Grid webhook with the app's `eventgrid_extension` system key, which it
// reads itself, so no key is ever in a template, a deployment's history or a log.
//
// Deploy this after the function app's code (the pipeline's Events job, after FunctionApp;
// scripts/deploy-functionapp.sh at its end): Event Grid validates the webhook when the
// subscription is created, and the host only answers that handshake, and only has the
// `eventgrid_extension` key, once it runs an app with an Event Grid function.
//
// Flex Consumption has no polling blob trigger; see handler/src/functions/queue_upload.rs for
// why this is an eventGridTrigger and not a blob trigger.

targetScope = 'resourceGroup'

@description('Azure region of the storage account.')
param location string = resourceGroup().location

@description('The storage account whose uploads container is watched.')
param storageAccountName string

@description('The function app that runs queue-upload and score-upload.')
param functionAppName string

@description('The container files are dropped into.')
param uploadsContainerName string = 'uploads'

@description('The container Event Grid writes events it could not deliver to.')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Tags applied to every resource.')
param tags object = {}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: '${storageAccountName}-events'
  location: location
  tags: tags
  // Dead letters are written with this identity: the account allows no shared keys.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, topic.id, storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource uploads 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'score-uploads'
  dependsOn: [
    deadLetterWriter
  ]
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        // The function's folder name, as the host's webhook knows it.
        resourceId: '${functionApp.id}/functions/queue-upload'
        // One event per delivery: a failed file is retried alone.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${uploadsContainerName}/blobs/'
    }
    // Event Grid's defaults, set on purpose: a day of retries, then the dead letter.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}
