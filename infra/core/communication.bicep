// Azure Communication Services Email: how the app tells a marketplace's contacts that its token
// needs a person (shared/notify). An Email Communication Services resource holds the sender
// domain; the Communication Services resource the app sends through links it. The app signs in
// with its managed identity (a role in app/roles.bicep): local (key) authentication is off, so no
// connection string or key can send on its behalf.
//
// Which sender domains exist and which one is linked is main.bicep's decision (docs/DEPLOY.md,
// "Messages to marketplace contacts"): Microsoft's Azure-managed subdomain of azurecomm.net in
// test, ready at once but limited to 5 messages a minute and 10 an hour per subscription (Learn,
// "Service limits for Azure Communication Services"); the operator's own domain in production,
// linked only once its DNS records are verified (Communication Services links verified domains
// only).

@description('Required. Name of the Communication Services resource (the endpoint the app sends through).')
param communicationServiceName string

@description('Required. Name of the Email Communication Services resource (it holds the sender domain).')
param emailServiceName string

@description('Optional. Where Communication Services keeps its data at rest (e.g. Europe, United States, UK).')
param dataLocation string = 'Europe'

@description('Optional. The sender domains to create: AzureManagedDomain (Microsoft\'s subdomain of azurecomm.net) or the operator\'s own domain (DNS records to add and verify).')
param domainNames string[] = []

@description('Optional. The one of domainNames the app sends from (linked to the Communication Services resource); empty: nothing is linked, no message is sent.')
param linkedDomainName string = ''

@description('Optional. Resource tags.')
param tags object = {}

/** Microsoft's own subdomain; any other name is a domain the operator owns and verifies. */
var managedDomainName = 'AzureManagedDomain'

resource emailService 'Microsoft.Communication/emailServices@2025-05-01' = {
  name: emailServiceName
  // Communication Services resources are global; dataLocation says where the data rests.
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

// No tracking pixels or rewritten links: the messages ask a person to sign in, and must look
// like nothing else.
resource domains 'Microsoft.Communication/emailServices/domains@2025-05-01' = [
  for domain in domainNames: {
    parent: emailService
    name: domain
    location: 'global'
    tags: tags
    properties: {
      domainManagement: domain == managedDomainName ? 'AzureManaged' : 'CustomerManaged'
      userEngagementTracking: 'Disabled'
    }
  }
]

resource communicationService 'Microsoft.Communication/communicationServices@2025-05-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    // The app's managed identity only: no access key can send.
    disableLocalAuth: true
    linkedDomains: empty(linkedDomainName) ? [] : [domains[indexOf(domainNames, linkedDomainName)].id]
  }
}

// A domain's default MailFrom address is DoNotReply (Learn, "Quickstart: How to add Azure Managed
// Domains to Email Communication Service").
@description('The sender address of the messages (NOTIFICATION_SENDER_ADDRESS), empty when no domain is linked.')
output senderAddress string = empty(linkedDomainName)
  ? ''
  : 'DoNotReply@${domains[indexOf(domainNames, linkedDomainName)].properties.mailFromSenderDomain}'
