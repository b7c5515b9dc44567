// The Function App's own storage: the host's timer leases (AzureWebJobsStorage), the
// deployment package container, the queue Key Vault's near-expiry events are delivered to,
// and the service's shared state (one lease per token, its tables). Reached only with Entra
// ID; no account keys exist in use.

@description('Required. Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Name of the blob container that holds the deployment package.')
param deploymentContainerName string

@description('Required. Name of the queue that receives Key Vault\'s SecretNearExpiry events (the app\'s queue trigger reads it).')
param nearExpiryQueueName string

@description('Required. Name of the blob container of the per-token leases (one writer per token across instances).')
param leaseContainerName string

@description('Required. Names of the tables of the service\'s shared state.')
param tableNames string[]

@description('Optional. Azure region.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // Keys are off: the host, the deployment and Event Grid use managed identities.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The app never creates containers or tables itself in Azure: they exist before its code does.
resource leaseContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = {
  parent: blobService
  name: leaseContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-06-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-06-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-06-01' = {
  parent: storage
  name: 'default'
}

// Exists before the app's code does, so the Event Grid subscription can be created on the
// first `azd up` and events wait here while the app is down or not yet deployed.
resource nearExpiryQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-06-01' = {
  parent: queueService
  name: nearExpiryQueueName
}
