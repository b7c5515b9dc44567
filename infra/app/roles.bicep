// Every role assignment of the deployment, in one place. Each is scoped to one resource,
// never to the resource group or the subscription, and names its built-in role's GUID (or, for
// the one custom role, the actions it allows).
// Assignment names are guid(scope, principal, role) with the principal's resource ID where it
// has one: computable before anything is deployed, so `what-if` lists every assignment.

@description('Required. Name of the Function App\'s user-assigned managed identity.')
param identityName string

@description('Required. Name of the Key Vault.')
param keyVaultName string

@description('Required. Name of the Function App\'s storage account.')
param storageAccountName string

@description('Required. Names of the tables of the service\'s shared state in that account.')
param sharedStateTableNames string[]

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Required. Name of the vault\'s Event Grid system topic, whose identity delivers near-expiry events to the queue.')
param keyVaultEventsTopicName string

@description('Required. Name of the Communication Services resource the app sends the messages to marketplace contacts through.')
param communicationServiceName string

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

// Built-in role definitions: the same GUIDs in every tenant.
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
var storageQueueDataMessageSender = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a' // Storage Queue Data Message Sender
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

resource sharedStateTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-06-01' existing = [
  for tableName in sharedStateTableNames: {
    name: '${storageAccountName}/default/${tableName}'
  }
]

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource keyVaultEvents 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: keyVaultEventsTopicName
}

resource communicationService 'Microsoft.Communication/communicationServices@2025-05-01' existing = {
  name: communicationServiceName
}

// Sending e-mail through Communication Services with a Microsoft Entra token (shared/notify).
// No built-in role is limited to that: Communication and Email Service Owner allows every
// operation on Communication and Email resources, their keys included. Learn ("Send email with
// SMTP", the custom role for the Entra application that sends) names what sending needs: read
// the Communication Services resource, write it, and write Email Services. This role allows
// those three actions and nothing else (no keys, no delete, no role management), is assignable
// in this resource group only, and is assigned below on the one Communication Services resource.
var emailSenderActions = [
  'Microsoft.Communication/CommunicationServices/Read'
  'Microsoft.Communication/CommunicationServices/Write'
  'Microsoft.Communication/EmailServices/write'
]

resource emailSenderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  // One per resource group: both environments of a group share it; role names are unique per tenant.
  name: guid(resourceGroup().id, 'connect-ms-auth-email-sender')
  properties: {
    roleName: 'connect-ms-auth Email Sender (${resourceGroup().name})'
    description: 'Sends e-mail through Azure Communication Services with Microsoft Entra ID, as Learn documents it (the custom role for sending). Nothing else.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: emailSenderActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

// The app writes a new secret version on every sign-in and rotation and updates tags;
// Key Vault Secrets User can only read. Secrets Officer is the smallest built-in role that
// can write secrets. It is granted on this vault only: Key Vault Administrator or
// Contributor would add keys, certificates and RBAC management the app never needs.
// (It also carries delete; purge protection and 90-day soft delete keep a deleted
// version recoverable, and the app's code never deletes.)
resource appSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identity.id, keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The Functions host keeps the timer's schedule status and singleton locks as blob leases
// (AzureWebJobsStorage), and Flex Consumption reads the deployment package from a blob
// container.
resource appBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The queue trigger on the near-expiry queue (connection AzureWebJobsStorage) reads and
// deletes messages, and moves a message that keeps failing to the `-poison` queue, which the
// host creates: reader + message processor would not cover that creation.
resource appQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The service's shared state (shared/storage/): reading and writing entities of its own tables,
// one assignment per table, none on the account's other tables. Its per-token leases are blob
// leases, covered by Storage Blob Data Owner above.
resource appTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (tableName, i) in sharedStateTableNames: {
    name: guid(sharedStateTables[i].id, identity.id, storageTableDataContributor)
    scope: sharedStateTables[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Application Insights accepts Entra-authenticated telemetry only (local auth is off).
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identity.id, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Event Grid delivers SecretNearExpiry with the system topic's own identity: it may add
// messages to the account's queues and nothing else (no read, no delete, no blobs).
resource eventsQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, keyVaultEvents.id, storageQueueDataMessageSender)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataMessageSender)
    principalId: keyVaultEvents.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The messages to marketplace contacts: the app sends through its Communication Services
// resource with its managed identity (local authentication is off there), under the custom role above.
resource appEmailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communicationService.id, identity.id, emailSenderRole.name)
  scope: communicationService
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', emailSenderRole.name)
    principalId: identity.properties.principalId
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
