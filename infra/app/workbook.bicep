// The operator's page in the portal: tokens by days left, the last rotation runs, failures by
// class over time, the Connect sync state and the tokens that need a person. The queries are
// in workbook.json (the workbook's own format) and read the service's log events, whose names
// come from shared/events.ts.

@description('Required. Name of the workbook (a GUID, as Azure requires).')
param name string

@description('Required. Title shown in the portal.')
param displayName string

@description('Required. Name of the Application Insights component the queries read.')
param applicationInsightsName string

@description('Optional. Azure region.')
param location string = resourceGroup().location

@description('Optional. Resource tags.')
param tags object = {}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var content = loadJsonContent('workbook.json')

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    // The portal lists a workbook under the resource whose ID it names, compared in lower case.
    sourceId: toLower(applicationInsights.id)
    serializedData: string(union(content, { fallbackResourceIds: [applicationInsights.id] }))
    version: 'Notebook/1.0'
  }
}
