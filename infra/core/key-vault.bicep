// The vault that holds the refresh tokens (one secret per marketplace, a new version per
// rotation), the client secrets and the transaction cookie key; and its audit log, which the
// second dead man's switch (app/alerts.bicep) reads independently of the app's own telemetry.

@description('Required. Name of the Key Vault (3-24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Name of the Log Analytics workspace that receives the vault\'s audit log.')
param logAnalyticsName string

@description('Optional. Azure region.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' existing = {
  name: logAnalyticsName
}

resource vault 'Microsoft.KeyVault/vaults@2025-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Data access is decided by Azure RBAC (app/roles.bicep), never by access policies.
    enableRbacAuthorization: true
    // A deleted secret or token stays recoverable for 90 days, and nobody can purge it early:
    // losing a refresh token means a distributor has to sign in again.
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Who read or wrote which secret (AzureDiagnostics, OperationName SecretSet / SecretGet / …),
// kept next to the service's own logs.
resource auditLog 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}
