// One environment (test or production) of connect-ms-auth: the Function App that lets a
// distributor generate a Microsoft Partner Center refresh token and rotates the stored
// tokens on a timer and on Key Vault's near-expiry events, the Key Vault that keeps them,
// and what the operator watches (alerts, an availability test, a workbook, Service Health).
// Deploy with `azd up` (azure.yaml, main.bicepparam) or `az deployment group create`; see
// docs/DEPLOY.md.
//
// Every resource name is computed here and handed to the modules as a parameter; modules
// refer to each other's resources by name (`existing`), never through outputs. So the names
// are known before anything is deployed and `what-if` can show every resource and setting.
targetScope = 'resourceGroup'

@description('Required. Name of the deployment environment (the azd environment name, e.g. connect-ms-auth-test). Seeds the unique resource names: keep it the same for every deployment of one environment.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Required. Which deployment of the service this is. Decides the Connect parameter a token belongs in (refresh_token_test / refresh_token_production).')
@allowed([
  'test'
  'production'
])
param serviceEnvironment string

@description('Optional. Azure region of all resources; Flex Consumption must be available there. Defaults to the resource group\'s region.')
param location string = resourceGroup().location

@description('Optional. Name of the Function App, which is part of the public start URL. Defaults to func-msauth-<environment>-<unique token>.')
@maxLength(60)
param functionAppName string = ''

@description('Optional. Application (client) ID of the Connect Microsoft connector\'s CPV application (CloudBlue\'s multi-tenant app, never a new registration): CPV tokens are bound to it. Empty turns the CPV model off.')
param cpvClientId string = ''

@description('Optional. How the CPV app authenticates: federated (it trusts this environment\'s managed identity, docs/DEPLOY.md step 2; no secret exists) or secret (a client secret in Key Vault under cpvClientSecretName).')
@allowed([
  'federated'
  'secret'
])
param cpvCredential string = 'federated'

@description('Optional. Name of the Key Vault secret that holds the CPV app\'s client secret; used only with cpvCredential secret.')
param cpvClientSecretName string = 'cpv-client-secret'

@description('Optional. Name of the Key Vault secret that holds the Connect API key. Empty turns the push of tokens to Connect off.')
param connectApiKeySecretName string = ''

@description('Optional. NCRONTAB schedule of the rotation timer (six fields, seconds first, UTC).')
param rotationSchedule string = '0 0 3 * * *'

@description('Optional. Where a distributor\'s admin reaches the operator (an https:// address or an e-mail address), shown on the pages that ask them to. Empty: the pages say to contact the operator of this service or their CloudBlue contact.')
param supportContact string = ''

@description('Optional. Microsoft Entra authority host. Defaults to the login endpoint of the cloud the deployment runs in.')
param authorityHost string = environment().authentication.loginEndpoint

@description('Optional. Partner Center API base URL.')
param partnerCenterApiUrl string = 'https://api.partnercenter.microsoft.com'

@description('Optional. E-mail addresses that receive the alerts (an action group is created for them). Production needs these or actionGroupResourceId.')
param alertEmailAddresses string[] = []

@description('Optional. Resource ID of an existing action group that receives the alerts. Production needs this or alertEmailAddresses.')
param actionGroupResourceId string = ''

@description('Optional. Object ID of the person or pipeline that deploys (azd passes AZURE_PRINCIPAL_ID). Used only with grantDeployerSecretsAccess.')
param principalId string = ''

@description('Optional. Type of principalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Optional. Grant principalId Key Vault Secrets Officer on this environment\'s vault, to put the client secrets and the cookie key in. Leave false where nobody needs it.')
param grantDeployerSecretsAccess bool = false

@description('Optional. Days Log Analytics keeps the logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Optional. Where Communication Services keeps the data of the messages to marketplace contacts (e.g. Europe, United States, UK).')
param communicationDataLocation string = 'Europe'

@description('Optional. The operator\'s own sender domain for the messages to marketplace contacts (e.g. notify.contoso.com; docs/DEPLOY.md). Empty: Microsoft\'s Azure-managed domain in test, no messages in production.')
param emailCustomDomain string = ''

@description('Optional. True once emailCustomDomain\'s DNS records are verified (docs/DEPLOY.md): only then does the app send from it.')
param emailCustomDomainVerified bool = false

@description('Optional. Region name as Azure Service Health writes it (e.g. West Europe). Defaults to the display name of location from regions.json; empty there means every region.')
param serviceHealthRegionName string = ''

var abbrs = loadJsonContent('abbreviations.json')
var regionDisplayNames = loadJsonContent('regions.json')
// Location is left out on purpose: azd and `az deployment group` must land on the same names.
var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  service: 'connect-ms-auth'
  environment: serviceEnvironment
}

var names = {
  functionApp: !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}msauth-${serviceEnvironment}-${resourceToken}'
  plan: '${abbrs.webServerFarms}${resourceToken}'
  identity: '${abbrs.managedIdentityUserAssignedIdentities}msauth-${resourceToken}'
  storage: '${abbrs.storageStorageAccounts}${resourceToken}'
  logAnalytics: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
  applicationInsights: '${abbrs.insightsComponents}${resourceToken}'
  keyVault: '${abbrs.keyVaultVaults}${resourceToken}'
  keyVaultEvents: '${abbrs.eventGridSystemTopics}kv-${resourceToken}'
  nearExpirySubscription: 'secret-near-expiry-to-queue'
  actionGroup: '${abbrs.insightsActionGroups}msauth-${resourceToken}'
  availabilityTest: '${abbrs.insightsWebTests}start-${resourceToken}'
  availabilityAlert: '${abbrs.insightsMetricAlerts}start-page-${serviceEnvironment}'
  serviceHealthAlert: '${abbrs.insightsActivityLogAlerts}service-health-${serviceEnvironment}-${resourceToken}'
  communicationService: '${abbrs.communicationCommunicationServices}msauth-${resourceToken}'
  emailService: '${abbrs.communicationEmailServices}msauth-${resourceToken}'
  workbook: guid(resourceGroup().id, environmentName, 'workbook')
}
var deploymentContainerName = 'deployment-package'
// The queue the app's near-expiry queue trigger reads, by this name.
var nearExpiryQueueName = 'secret-near-expiry'
// The service's shared state in the same account (shared/storage/): one blob lease per token,
// and what every instance must see alike (used sign-in states, per-token records, run records).
var leaseContainerName = 'token-leases'
var sharedStateTableNames = [
  'signinstates'
  'tokenrecords'
  'rotationruns'
]
// Refresh-token secrets are named refresh-token-<environment>-<marketplace>
// (tokenSecretName in shared/secrets/store.ts).
var tokenSecretPrefix = 'refresh-token-'

// Messages to marketplace contacts (infra/core/communication.bicep): the sender domains that exist,
// and the one the app sends from. Test may use Microsoft's Azure-managed domain (ready at once, 5
// messages a minute and 10 an hour per subscription); production sends only from the operator's
// own domain, once its DNS records are verified. Empty: the app sends nothing, and says so.
var managedEmailDomain = 'AzureManagedDomain'
var emailDomainNames = !empty(emailCustomDomain) ? [emailCustomDomain] : serviceEnvironment == 'test' ? [managedEmailDomain] : []
var emailSenderDomain = !empty(emailCustomDomain)
  ? (emailCustomDomainVerified ? emailCustomDomain : '')
  : (serviceEnvironment == 'test' ? managedEmailDomain : '')

// ARM hands authority URLs out with a trailing slash; the app appends /<tenant> itself.
var authority = endsWith(authorityHost, '/') ? take(authorityHost, max(0, length(authorityHost) - 1)) : authorityHost

// Production must tell somebody when tokens stop rotating: it is not deployed without a
// receiver of the alerts. (fail() stops the deployment with this message.)
var requestedActionGroupIds = concat(
  empty(actionGroupResourceId) ? [] : [actionGroupResourceId],
  empty(alertEmailAddresses) ? [] : [resourceId('Microsoft.Insights/actionGroups', names.actionGroup)]
)
var actionGroupIds = serviceEnvironment == 'production' && empty(requestedActionGroupIds)
  ? fail('Production needs an alert receiver: set alertEmailAddresses (ALERT_EMAIL_ADDRESSES) or actionGroupResourceId (ALERT_ACTION_GROUP_ID).')
  : requestedActionGroupIds

var regionName = !empty(serviceHealthRegionName) ? serviceHealthRegionName : (regionDisplayNames[?location] ?? '')

module identity 'core/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    deploymentContainerName: deploymentContainerName
    nearExpiryQueueName: nearExpiryQueueName
    leaseContainerName: leaseContainerName
    tableNames: sharedStateTableNames
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    retentionInDays: logRetentionInDays
    location: location
    tags: tags
  }
}

module keyVault 'core/key-vault.bicep' = {
  name: 'keyVault'
  dependsOn: [
    monitoring
  ]
  params: {
    name: names.keyVault
    logAnalyticsName: names.logAnalytics
    location: location
    tags: tags
  }
}

module keyVaultEvents 'core/key-vault-events.bicep' = {
  name: 'keyVaultEvents'
  dependsOn: [
    keyVault
  ]
  params: {
    name: names.keyVaultEvents
    keyVaultName: names.keyVault
    location: location
    tags: tags
  }
}

module communication 'core/communication.bicep' = {
  name: 'communication'
  params: {
    communicationServiceName: names.communicationService
    emailServiceName: names.emailService
    dataLocation: communicationDataLocation
    domainNames: emailDomainNames
    linkedDomainName: emailSenderDomain
    tags: tags
  }
}

module roles 'app/roles.bicep' = {
  name: 'roles'
  dependsOn: [
    identity
    storage
    monitoring
    keyVault
    keyVaultEvents
    communication
  ]
  params: {
    identityName: names.identity
    keyVaultName: names.keyVault
    storageAccountName: names.storage
    sharedStateTableNames: sharedStateTableNames
    applicationInsightsName: names.applicationInsights
    keyVaultEventsTopicName: names.keyVaultEvents
    communicationServiceName: names.communicationService
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    grantDeployerSecretsAccess: grantDeployerSecretsAccess
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  // The app starts only once its identity may reach storage, the vault and App Insights.
  dependsOn: [
    roles
  ]
  params: {
    name: names.functionApp
    planName: names.plan
    identityName: names.identity
    storageAccountName: names.storage
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: names.applicationInsights
    keyVaultName: names.keyVault
    serviceEnvironment: serviceEnvironment
    authorityHost: authority
    partnerCenterApiUrl: partnerCenterApiUrl
    rotationSchedule: rotationSchedule
    cpvClientId: cpvClientId
    cpvCredential: cpvCredential
    cpvClientSecretName: cpvClientSecretName
    connectApiKeySecretName: connectApiKeySecretName
    communicationServiceName: names.communicationService
    emailServiceName: names.emailService
    emailSenderDomain: emailSenderDomain
    supportContact: supportContact
    location: location
    tags: tags
  }
}

module nearExpiry 'app/near-expiry.bicep' = {
  name: 'nearExpiry'
  // Delivery uses the topic's identity, so its queue role comes first.
  dependsOn: [
    roles
  ]
  params: {
    name: names.nearExpirySubscription
    keyVaultEventsTopicName: names.keyVaultEvents
    storageAccountName: names.storage
    queueName: nearExpiryQueueName
    subjectPrefix: tokenSecretPrefix
  }
}

module actionGroup 'app/action-group.bicep' = if (!empty(alertEmailAddresses)) {
  name: 'actionGroup'
  params: {
    name: names.actionGroup
    shortName: take('msauth-${serviceEnvironment}', 12)
    emailAddresses: alertEmailAddresses
    tags: tags
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  dependsOn: [
    monitoring
    keyVault
    actionGroup
  ]
  params: {
    applicationInsightsName: names.applicationInsights
    keyVaultName: names.keyVault
    nearExpiryQueueName: nearExpiryQueueName
    serviceEnvironment: serviceEnvironment
    namePrefix: abbrs.insightsScheduledQueryRules
    actionGroupIds: actionGroupIds
    location: location
    tags: tags
  }
}

module availability 'app/availability.bicep' = {
  name: 'availability'
  dependsOn: [
    api
    actionGroup
  ]
  params: {
    name: names.availabilityTest
    alertName: names.availabilityAlert
    functionAppName: names.functionApp
    applicationInsightsName: names.applicationInsights
    serviceEnvironment: serviceEnvironment
    // The start form's button (shared/pages.ts); a page without it is no start page.
    expectedText: 'Generate Refresh Token'
    actionGroupIds: actionGroupIds
    location: location
    tags: tags
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  dependsOn: [
    monitoring
  ]
  params: {
    name: names.workbook
    displayName: 'connect-ms-auth (${serviceEnvironment})'
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
  }
}

module serviceHealth 'app/service-health.bicep' = {
  name: 'serviceHealth'
  dependsOn: [
    actionGroup
  ]
  params: {
    name: names.serviceHealthAlert
    serviceEnvironment: serviceEnvironment
    regionNames: empty(regionName) ? [] : [regionName]
    actionGroupIds: actionGroupIds
    tags: tags
  }
}

@description('The public start URL of this environment: give it to the distributors\' admins.')
output START_URL string = api.outputs.startUrl

@description('The redirect URI to register on the Entra app registrations (CPV app and each CSP app).')
output CALLBACK_URL string = api.outputs.callbackUrl

@description('The Key Vault that holds the tokens, the client secrets and the cookie key.')
output AZURE_KEY_VAULT_NAME string = names.keyVault

@description('The Function App (for az functionapp commands).')
output AZURE_FUNCTION_APP_NAME string = names.functionApp

@description('The tenant of this deployment: the issuer of the CPV app\'s federated credential is https://login.microsoftonline.com/<tenant>/v2.0.')
output AZURE_TENANT_ID string = tenant().tenantId

@description('Principal (object) ID of the app\'s managed identity: the subject of the CPV app\'s federated credential.')
output APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId

@description('The address the messages to marketplace contacts come from; empty while no sender domain is linked (production before its custom domain is verified).')
output NOTIFICATION_SENDER_ADDRESS string = communication.outputs.senderAddress

@description('The Email Communication Services resource: a custom sender domain\'s DNS records are shown and verified there (docs/DEPLOY.md).')
output EMAIL_SERVICE_NAME string = names.emailService
