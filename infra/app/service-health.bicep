// Azure's own word on an outage or maintenance of what this service runs on (Functions,
// Key Vault) in its region: a Service Health alert. It reads the subscription's activity log,
// so it is scoped to the subscription although it lives in this resource group.

@description('Required. Name of the activity log alert.')
param name string

@description('Required. Which deployment this is; shown in the description.')
@allowed([
  'test'
  'production'
])
param serviceEnvironment string

@description('Required. Region names as Service Health writes them (display names, e.g. West Europe); empty alerts on every region.')
param regionNames string[]

@description('Optional. Service names as Service Health writes them.')
param serviceNames string[] = [
  'Functions'
  'Azure Functions'
  'Key Vault'
]

@description('Optional. Resource IDs of the action groups that receive the alert.')
param actionGroupIds string[] = []

@description('Optional. Resource tags.')
param tags object = {}

var regionCondition = empty(regionNames)
  ? []
  : [
      {
        field: 'properties.impactedServices[*].ImpactedRegions[*].RegionName'
        // Global: incidents Azure does not tie to a region.
        containsAny: concat(regionNames, ['Global'])
      }
    ]

resource serviceHealth 'Microsoft.Insights/activityLogAlerts@2020-10-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    description: '[${serviceEnvironment}] Azure Service Health: an incident, maintenance, advisory or security notice for ${join(serviceNames, ', ')}.'
    enabled: true
    scopes: [
      subscription().id
    ]
    condition: {
      allOf: concat(
        [
          {
            field: 'category'
            equals: 'ServiceHealth'
          }
          {
            field: 'properties.impactedServices[*].ServiceName'
            containsAny: serviceNames
          }
        ],
        regionCondition
      )
    }
    actions: {
      // Each ID is an element of the actionGroupIds parameter, which the rule cannot see through.
      #disable-next-line use-resource-id-functions
      actionGroups: map(actionGroupIds, id => { actionGroupId: id })
    }
  }
}
