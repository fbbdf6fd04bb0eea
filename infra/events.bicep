// Files dropped into the `uploads` container reach the `score-upload` function: an Event Grid
// system topic on the storage account, and a subscription to its BlobCreated events under
// uploads/, delivered to the function.
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
// Flex Consumption has no polling blob trigger; see handler/src/functions/score_upload.rs for
// why this is an eventGridTrigger that streams the blob rather than a blob trigger.

targetScope = 'resourceGroup'

@description('Azure region of the storage account.')
param location string = resourceGroup().location

@description('The storage account whose uploads container is watched.')
param storageAccountName string

@description('The function app that runs score-upload.')
param functionAppName string

@description('The container files are dropped into.')
param uploadsContainerName string = 'uploads'

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
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource uploads 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'score-uploads'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        // The function's folder name, as the host's webhook knows it.
        resourceId: '${functionApp.id}/functions/score-upload'
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
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
