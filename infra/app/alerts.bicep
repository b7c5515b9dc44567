// Alert rules over what the service logs. Every log line is one JSON object in the trace
// message, e.g. {"event":"TokenNeedsReauth","marketplace":"MP-12345",...}; event names come
// from shared/events.ts (the infra tests fail if a name here is not one the code writes).

@description('Required. Resource ID of the Application Insights component the rules query.')
param applicationInsightsId string

@description('Required. Which deployment this is; shown in the alert names.')
@allowed([
  'test'
  'production'
])
param serviceEnvironment string

@description('Required. Prefix of the alert rule names.')
param namePrefix string

@description('Optional. Email addresses that receive the alerts; when given, an action group is created for them.')
param alertEmailAddresses string[] = []

@description('Optional. Resource ID of an existing action group that receives the alerts.')
param actionGroupResourceId string = ''

@description('Optional. Name of the action group created for alertEmailAddresses.')
param actionGroupName string = 'ag-msauth-${serviceEnvironment}'

@description('Optional. Azure region of the alert rules.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource emailActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddresses)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('msauth-${serviceEnvironment}', 12)
    enabled: true
    emailReceivers: [
      for (address, i) in alertEmailAddresses: {
        name: 'email-${i}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroupIds = concat(
  empty(actionGroupResourceId) ? [] : [actionGroupResourceId],
  empty(alertEmailAddresses) ? [] : [emailActionGroup.id]
)

// One alert per marketplace, so each one names the marketplace to fix.
var splitByMarketplace = [
  {
    name: 'marketplace'
    operator: 'Include'
    values: [
      '*'
    ]
  }
]

// One entry per rule. `has` narrows the scan with the term index before the JSON is parsed;
// the exact match on the `event` field then keeps only the service's own entries.
var alertRules = [
  {
    name: 'rotation-run-failed'
    displayName: 'Refresh-token rotation run failed'
    description: 'A rotation run stopped with an error. No token was rotated by that run; the previous versions stay valid. Look at the run\'s trace in Application Insights.'
    severity: 1
    dimensions: []
    query: '''
traces
| where message has "RotationRunFailed"
| extend entry = parse_json(message)
| where tostring(entry.event) == "RotationRunFailed"
'''
  }
  {
    name: 'token-needs-reauth'
    displayName: 'A refresh token needs a person'
    description: 'Microsoft refused a stored refresh token (expired, revoked, consent, MFA or conditional access). The distributor\'s admin must generate a new one at the start URL.'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "TokenNeedsReauth"
| extend entry = parse_json(message)
| where tostring(entry.event) == "TokenNeedsReauth"
| extend marketplace = tostring(entry.marketplace)
'''
  }
  {
    name: 'invalid-client'
    displayName: 'Entra app credentials rejected (invalid_client)'
    description: 'Microsoft rejected an app\'s client credentials: its client secret is wrong or expired. Rotation stopped for that app; put a valid secret into Key Vault.'
    severity: 1
    dimensions: []
    query: '''
traces
| where message has "InvalidClient"
| extend entry = parse_json(message)
| where tostring(entry.event) == "InvalidClient"
'''
  }
  {
    name: 'connect-sync-failed'
    displayName: 'Token could not be written to Connect'
    description: 'A refresh token was stored in Key Vault but pushing it to Connect failed; the Connect product parameter still holds the previous token.'
    severity: 2
    dimensions: splitByMarketplace
    query: '''
traces
| where message has "ConnectSyncFailed"
| extend entry = parse_json(message)
| where tostring(entry.event) == "ConnectSyncFailed"
| extend marketplace = tostring(entry.marketplace)
'''
  }
]

resource rules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in alertRules: {
    name: '${namePrefix}${rule.name}-${serviceEnvironment}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: '[${serviceEnvironment}] ${rule.displayName}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        applicationInsightsId
      ]
      evaluationFrequency: 'PT15M'
      windowSize: 'PT15M'
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            dimensions: rule.dimensions
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      // Each occurrence is an event to act on, not a state that heals by itself.
      autoMitigate: false
      actions: {
        actionGroups: actionGroupIds
        customProperties: {
          service: 'connect-ms-auth'
          environment: serviceEnvironment
        }
      }
    }
  }
]
