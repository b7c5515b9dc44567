// One environment (test or production) of connect-ms-auth: the Function App that lets a
// distributor generate a Microsoft Partner Center refresh token and rotates the stored
// tokens on a timer, the Key Vault that keeps them, and what the operator watches.
// Deploy with `azd up` (azure.yaml) or `az deployment group create`; see docs/DEPLOY.md.
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

@description('Optional. Application (client) ID of the service\'s own multi-tenant Entra app (CPV model). Empty turns the CPV model off.')
param cpvClientId string = ''

@description('Optional. Name of the Key Vault secret that holds the CPV app\'s client secret.')
param cpvClientSecretName string = 'cpv-client-secret'

@description('Optional. Name of the Key Vault secret that holds the Connect API key. Empty turns the push of tokens to Connect off.')
param connectApiKeySecretName string = ''

@description('Optional. NCRONTAB schedule of the rotation timer (six fields, seconds first, UTC).')
param rotationSchedule string = '0 0 3 * * *'

@description('Optional. Microsoft Entra authority host.')
param authorityHost string = 'https://login.microsoftonline.com'

@description('Optional. Email addresses that receive the alerts (an action group is created for them).')
param alertEmailAddresses string[] = []

@description('Optional. Resource ID of an existing action group that receives the alerts.')
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

var abbrs = loadJsonContent('abbreviations.json')
// Location is left out on purpose: azd and `az deployment group` must land on the same names.
var resourceToken = toLower(uniqueString(resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  service: 'connect-ms-auth'
  environment: serviceEnvironment
}
var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}msauth-${serviceEnvironment}-${resourceToken}'
var deploymentContainerName = 'deployment-package'

module identity 'core/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}msauth-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    deploymentContainerName: deploymentContainerName
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    retentionInDays: logRetentionInDays
    location: location
    tags: tags
  }
}

module keyVault 'core/key-vault.bicep' = {
  name: 'keyVault'
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    location: location
    tags: tags
  }
}

module roles 'app/roles.bicep' = {
  name: 'roles'
  params: {
    appPrincipalId: identity.outputs.principalId
    keyVaultName: keyVault.outputs.name
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
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
    name: appName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    serviceEnvironment: serviceEnvironment
    authorityHost: authorityHost
    rotationSchedule: rotationSchedule
    cpvClientId: cpvClientId
    cpvClientSecretName: cpvClientSecretName
    connectApiKeySecretName: connectApiKeySecretName
    location: location
    tags: tags
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  params: {
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    serviceEnvironment: serviceEnvironment
    namePrefix: abbrs.insightsScheduledQueryRules
    actionGroupName: '${abbrs.insightsActionGroups}msauth-${resourceToken}'
    alertEmailAddresses: alertEmailAddresses
    actionGroupResourceId: actionGroupResourceId
    location: location
    tags: tags
  }
}

@description('The public start URL of this environment: give it to the distributors\' admins.')
output START_URL string = api.outputs.startUrl

@description('The redirect URI to register on the Entra app registrations (CPV app and each CSP app).')
output CALLBACK_URL string = api.outputs.callbackUrl

@description('The Key Vault that holds the tokens, the client secrets and the cookie key.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name

@description('The Function App (for az functionapp commands).')
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
