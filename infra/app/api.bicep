// The service itself: a Linux Function App on Flex Consumption (Node.js 22), and every app
// setting it reads, named exactly as shared/settings.ts (settingsShape) names them.
//
// Flex Consumption refuses the site properties and app settings older plans use for the
// runtime (siteConfig.linuxFxVersion, siteConfig.ftpsState, FUNCTIONS_WORKER_RUNTIME,
// WEBSITE_NODE_DEFAULT_VERSION, WEBSITE_RUN_FROM_PACKAGE, …): the runtime and its version
// live in functionAppConfig.runtime, and FTP is off through basicPublishingCredentialsPolicies.

@description('Required. Name of the Function App; it is part of the public start URL.')
param name string

@description('Required. Name of the Flex Consumption plan.')
param planName string

@description('Required. Name of the user-assigned managed identity the app runs as.')
param identityName string

@description('Required. Name of the storage account for the host, the deployment package and the near-expiry queue.')
param storageAccountName string

@description('Required. Name of the blob container that holds the deployment package.')
param deploymentContainerName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Required. Name of the Key Vault.')
param keyVaultName string

@description('Required. Which deployment this is (SERVICE_ENVIRONMENT).')
@allowed([
  'test'
  'production'
])
param serviceEnvironment string

@description('Required. Microsoft Entra authority host (AUTHORITY_HOST), without a trailing slash.')
param authorityHost string

@description('Optional. NCRONTAB schedule of the rotation timer (ROTATION_SCHEDULE).')
param rotationSchedule string = '0 0 3 * * *'

@description('Optional. Client ID of the Connect Microsoft connector\'s CPV application (CPV_CLIENT_ID); empty turns the CPV model off.')
param cpvClientId string = ''

@description('Optional. How the CPV app proves itself to Entra ID (CPV_CREDENTIAL): federated (a token of this app\'s managed identity; no secret exists) or secret (a client secret in Key Vault).')
@allowed([
  'federated'
  'secret'
])
param cpvCredential string = 'federated'

@description('Optional. Key Vault secret name of the CPV app\'s client secret (CPV_CLIENT_SECRET_NAME); used only with cpvCredential secret.')
param cpvClientSecretName string = 'cpv-client-secret'

@description('Optional. Key Vault secret name of the Connect API key (CONNECT_API_KEY_SECRET_NAME); empty turns the Connect push off.')
param connectApiKeySecretName string = ''

@description('Required. Name of the Communication Services resource the app sends the messages to marketplace contacts through.')
param communicationServiceName string

@description('Required. Name of the Email Communication Services resource that holds the sender domain.')
param emailServiceName string

@description('Optional. The sender domain linked to that resource (AzureManagedDomain or the operator\'s own); empty turns the messages off (COMMUNICATION_SERVICES_ENDPOINT and NOTIFICATION_SENDER_ADDRESS unset).')
param emailSenderDomain string = ''

@description('Optional. Where a distributor\'s admin reaches the operator (SUPPORT_CONTACT): an https:// address or an e-mail address; empty for none.')
param supportContact string = ''

@description('Optional. Partner Center API base URL (PARTNER_CENTER_API_URL).')
param partnerCenterApiUrl string = 'https://api.partnercenter.microsoft.com'

@description('Optional. Path of the marketplace configuration file inside the deployment package (MARKETPLACE_CONFIG_PATH).')
param marketplaceConfigPath string = 'config/marketplaces.json'

@description('Optional. Upper bound of Flex Consumption instances.')
param maximumInstanceCount int = 40

@description('Optional. Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Azure region.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

// The operator creates this secret (32+ random bytes) before the app first serves a sign-in;
// see docs/DEPLOY.md.
var transactionCookieKeySecretName = 'transaction-cookie-key'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2025-05-01' existing = {
  name: keyVaultName
}

resource communicationService 'Microsoft.Communication/communicationServices@2025-05-01' existing = {
  name: communicationServiceName
}

resource emailSender 'Microsoft.Communication/emailServices/domains@2025-05-01' existing = if (!empty(emailSenderDomain)) {
  name: '${emailServiceName}/${empty(emailSenderDomain) ? 'none' : emailSenderDomain}'
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  // azd finds the app to deploy the `api` service to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    // Key Vault references in app settings resolve with this identity.
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// No FTP and no publishing passwords: deployments authenticate with Entra ID (azd, az CLI).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

var callbackUrl = 'https://${functionApp.properties.defaultHostName}/api/callback'

resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Functions host: storage (leases, the near-expiry queue trigger) through the managed
    // identity, no connection string.
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId
    // The host's default page at / says nothing a visitor needs; the start page is /api/start.
    AzureWebJobsDisableHomepage: 'true'
    // Telemetry authenticated with Entra ID (local auth is off on the component).
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
    // The app's Azure SDK credential picks the user-assigned identity by this; with
    // CPV_CREDENTIAL=federated it is also the identity whose token the CPV app trusts.
    AZURE_CLIENT_ID: identity.properties.clientId

    // The service's settings (shared/settings.ts).
    SERVICE_ENVIRONMENT: serviceEnvironment
    CALLBACK_URL: callbackUrl
    AUTHORITY_HOST: authorityHost
    PARTNER_CENTER_API_URL: partnerCenterApiUrl
    KEY_VAULT_URL: keyVault.properties.vaultUri
    // Resolved by the platform from the vault; the value never appears in the template or the portal.
    TRANSACTION_COOKIE_KEY: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=${transactionCookieKeySecretName})'
    MARKETPLACE_CONFIG_PATH: marketplaceConfigPath
    ROTATION_SCHEDULE: rotationSchedule
    CPV_CLIENT_ID: cpvClientId
    CPV_CREDENTIAL: cpvCredential
    // A secret name only where a secret is used: a federated CPV app has no secret to name.
    CPV_CLIENT_SECRET_NAME: !empty(cpvClientId) && cpvCredential == 'secret' ? cpvClientSecretName : ''
    CONNECT_API_KEY_SECRET_NAME: connectApiKeySecretName
    // Messages to marketplace contacts, sent with the managed identity (AZURE_CLIENT_ID): empty
    // turns them off. A domain's default MailFrom address is DoNotReply.
    COMMUNICATION_SERVICES_ENDPOINT: empty(emailSenderDomain) ? '' : 'https://${communicationService.properties.hostName}'
    NOTIFICATION_SENDER_ADDRESS: empty(emailSenderDomain) ? '' : 'DoNotReply@${emailSender!.properties.mailFromSenderDomain}'
    SUPPORT_CONTACT: supportContact
  }
}

output startUrl string = 'https://${functionApp.properties.defaultHostName}/api/start'
output callbackUrl string = callbackUrl
