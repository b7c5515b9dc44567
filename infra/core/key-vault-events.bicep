// The vault's Event Grid system topic: where Key Vault publishes SecretNearExpiry (30 days
// before a secret version's `exp`). Its own managed identity delivers the events to the app's
// storage queue (app/near-expiry.bicep), so no key or connection string is involved.

@description('Required. Name of the Event Grid system topic.')
param name string

@description('Required. Name of the Key Vault whose events the topic carries.')
param keyVaultName string

@description('Optional. Azure region; a system topic lives in its source\'s region.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: keyVault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}
