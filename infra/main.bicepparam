// Parameters of one environment, read from the azd environment (azd passes its values as
// environment variables when it compiles this file; docs/DEPLOY.md shows the same for
// `az deployment group`). The environment, not this file, holds each value, so a deployment
// never resets a setting another deployment made: only unset variables take main.bicep's
// defaults. SERVICE_ENVIRONMENT has no default: a deployment must say which one it is.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param serviceEnvironment = readEnvironmentVariable('SERVICE_ENVIRONMENT')

param cpvClientId = readEnvironmentVariable('CPV_CLIENT_ID', '')
param cpvCredential = readEnvironmentVariable('CPV_CREDENTIAL', 'federated')
param cpvClientSecretName = readEnvironmentVariable('CPV_CLIENT_SECRET_NAME', 'cpv-client-secret')
param connectApiKeySecretName = readEnvironmentVariable('CONNECT_API_KEY_SECRET_NAME', '')
param rotationSchedule = readEnvironmentVariable('ROTATION_SCHEDULE', '0 0 3 * * *')
param supportContact = readEnvironmentVariable('SUPPORT_CONTACT', '')

// Comma-separated, e.g. ops@example.com,oncall@example.com.
param alertEmailAddresses = filter(map(split(readEnvironmentVariable('ALERT_EMAIL_ADDRESSES', ''), ','), address => trim(address)), address => !empty(address))
param actionGroupResourceId = readEnvironmentVariable('ALERT_ACTION_GROUP_ID', '')

// Messages to marketplace contacts: the operator's own sender domain (production), once verified.
param communicationDataLocation = readEnvironmentVariable('COMMUNICATION_DATA_LOCATION', 'Europe')
param emailCustomDomain = readEnvironmentVariable('EMAIL_CUSTOM_DOMAIN', '')
param emailCustomDomainVerified = bool(readEnvironmentVariable('EMAIL_CUSTOM_DOMAIN_VERIFIED', 'false'))

param principalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
param principalType = readEnvironmentVariable('AZURE_PRINCIPAL_TYPE', 'User')
param grantDeployerSecretsAccess = bool(readEnvironmentVariable('GRANT_DEPLOYER_SECRETS_ACCESS', 'false'))
