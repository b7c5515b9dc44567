// The second, independent trigger of a rotation: Key Vault raises SecretNearExpiry 30 days
// before a token version's `exp` (a token is due for rotation long before; 60 days without
// one means the timer has not been rotating it). The vault's system topic delivers the event
// to a queue in the app's own storage; the app's queue trigger rotates that marketplace.
//
// A queue, not an Event Grid or webhook subscription to the function: the queue exists at
// provisioning time (a subscription to a function that is not yet deployed fails on the first
// `azd up`), holds the events while the app is down, and leaves the HTTP functions' cold start
// alone. host.json sets extensions.queues.messageEncoding to "none": the trigger then hands
// over the message as Event Grid wrote it instead of refusing JSON that is not base64.

@description('Required. Name of the event subscription.')
param name string

@description('Required. Name of the vault\'s Event Grid system topic.')
param keyVaultEventsTopicName string

@description('Required. Name of the Function App\'s storage account.')
param storageAccountName string

@description('Required. Name of the queue the app\'s queue trigger reads.')
param queueName string

@description('Required. Start of the event subject, which is the secret\'s name, of refresh-token secrets.')
param subjectPrefix string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: keyVaultEventsTopicName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

resource nearExpiry 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: name
  properties: {
    // The topic's identity holds Storage Queue Data Message Sender on the account (app/roles.bicep).
    deliveryWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: storage.id
          queueName: queueName
          // Past 30 days the secret version has expired and the event is moot.
          queueMessageTimeToLiveInSeconds: 2592000
        }
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.SecretNearExpiry'
      ]
      // The subject of a Key Vault event is the secret's name; client secrets, the cookie key
      // and the Connect API key are not the rotation's business.
      subjectBeginsWith: subjectPrefix
      isSubjectCaseSensitive: true
    }
    // Storage is the only thing that can refuse a delivery; retry for the longest time
    // Event Grid allows (a day) rather than dead-letter into the same, unreachable account.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
