// Every role assignment of the deployment, in one place. Each is scoped to one resource,
// never to the resource group or the subscription, and names its built-in role's GUID.

@description('Required. Principal (object) ID of the Function App\'s managed identity.')
param appPrincipalId string

@description('Required. Name of the Key Vault.')
param keyVaultName string

@description('Required. Name of the Function App\'s storage account.')
param storageAccountName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Optional. Object ID of the person or pipeline that deploys; only used when grantDeployerSecretsAccess is true.')
param deployerPrincipalId string = ''

@description('Optional. Type of deployerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('Optional. Lets the deployer put secrets into the vault (client secrets, the cookie key).')
param grantDeployerSecretsAccess bool = false

// Built-in role definitions (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The app writes a new secret version on every sign-in and rotation and updates tags;
// Key Vault Secrets User can only read. Secrets Officer is the smallest built-in role that
// can write secrets. It is granted on this vault only: Key Vault Administrator or
// Contributor would add keys, certificates and RBAC management the app never needs.
// (It also carries delete; purge protection and 90-day soft delete keep a deleted
// version recoverable, and the app's code never deletes.)
resource appSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, appPrincipalId, keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The Functions host keeps the timer's schedule status and singleton locks as blob leases
// (AzureWebJobsStorage), and Flex Consumption reads the deployment package from a blob
// container. No queue or table role: this app has no queue, blob or durable triggers.
resource appBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights accepts Entra-authenticated telemetry only (local auth is off).
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Behind a flag: a person who must put the CPV client secret, partner client secrets or the
// cookie key into the vault. Leave it off where nobody needs to.
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantDeployerSecretsAccess && !empty(deployerPrincipalId)) {
  name: guid(keyVault.id, deployerPrincipalId, keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
