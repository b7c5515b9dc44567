// The Function App's identity. User-assigned, so its roles exist before the app first starts
// (no window in which the host cannot reach its storage or the vault).

@description('Required. Name of the user-assigned managed identity.')
param name string

@description('Optional. Azure region.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output resourceId string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
