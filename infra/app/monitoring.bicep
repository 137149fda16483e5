// The Azure Monitor workbook "SMTP relay operations" on Application Insights: deliveries per hour, dead letters
// by reason, latency from enqueue to the server's 250 (p50/p95), throttling and retries, token requests and
// Key Vault reads. Its queries (workbook.json) read the relay's OpenTelemetry records: `traces` with the
// events' fields in customDimensions and `customMetrics` (docs/operations.md; a unit test checks every field
// name they use against the code).

@description('Region of the workbook (that of Application Insights).')
param location string

@description('Tags of the environment.')
param tags object

@description('Prefix of the workbook\'s display name (the Function App name).')
param namePrefix string

@description('Resource ID of the Application Insights component the relay sends its telemetry to.')
param appInsightsResourceId string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; this one is stable per app, so a redeployment updates it in place.
  name: guid(resourceGroup().id, appInsightsResourceId, 'smtp-relay-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: '${namePrefix}: SMTP relay operations'
    category: 'workbook'
    sourceId: appInsightsResourceId
    serializedData: loadTextContent('workbook.json')
    version: '1.0'
  }
}

output workbookId string = workbook.id
