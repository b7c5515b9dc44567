// Who is told: an action group that e-mails the operators. Created only when main.bicep is
// given e-mail addresses; an existing action group can be used instead (or as well).

@description('Required. Name of the action group.')
param name string

@description('Required. Short name shown in e-mails and SMS (at most 12 characters).')
@maxLength(12)
param shortName string

@description('Required. E-mail addresses that receive the alerts.')
@minLength(1)
param emailAddresses string[]

@description('Optional. Resource tags.')
param tags object = {}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    groupShortName: shortName
    enabled: true
    emailReceivers: [
      for (address, i) in emailAddresses: {
        name: 'email-${i}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
  }
}
