// The Function App's identity. User-assigned, so its roles exist before the app first starts
// (no window in which the host cannot reach its storage or the vault), and so the CPV app
// registration can trust it as a federated credential.

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

// The federated identity credential on the CPV app names this principal as its subject
// (docs/DEPLOY.md, step 2).
output principalId string = identity.properties.principalId
