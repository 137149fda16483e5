// Azure Monitor log alert rules on the relay's own telemetry in Application Insights, and the action group
// that notifies people. Log-based on purpose: Azure Storage queue metrics (QueueMessageCount) are per account,
// hourly, without a queue dimension, so they cannot tell the dead-letter queue from the main queue; the relay
// logs every dead letter (event relay.dead_lettered, with its reason) and every monitor alert (event
// monitor.alert) the moment they happen.
//
// The relay sends its events as OpenTelemetry log records (src/telemetry): each event's fields are
// customDimensions of its `traces` row, under the names the code gives them (docs/operations.md lists them;
// a unit test checks every name used here against the code).

@description('Region of the alert rules (that of Application Insights).')
param location string

@description('Tags of the environment.')
param tags object

@description('Prefix of the alert rule names (the Function App name).')
param namePrefix string

@description('Resource ID of the Application Insights component the relay logs to.')
param appInsightsResourceId string

@description('Action group name.')
param actionGroupName string

@description('Comma-separated e-mail addresses to notify; empty: no action group, the alerts show in the portal only.')
param alertEmailAddresses string

var emails = filter(map(split(alertEmailAddresses, ','), address => trim(address)), address => !empty(address))
var notify = !empty(emails)

// Relay dead letters, and the host's own move to <queue>-poison (logged by the queue extension as
// "Message has reached MaxDequeueCount of N. Moving message to queue '<queue>-poison'."), which should never
// happen because the relay dead-letters the last attempt itself.
var deadLetterQuery = '''
traces
| where tostring(customDimensions.event) == "relay.dead_lettered" or message startswith "Message has reached MaxDequeueCount"
| extend reason = iff(message startswith "Message has reached MaxDequeueCount", "host_poison", tostring(customDimensions.reason))
| project timestamp, reason, message
'''

// Secret monitor alerts (README, The secret monitor timer): one event per alert, with its name and severity.
var monitorAlertQuery = '''
traces
| where tostring(customDimensions.event) == "monitor.alert"
| extend alertName = tostring(customDimensions.alert), alertSeverity = tostring(customDimensions.severity)
'''

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (notify) {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'smtp-relay'
    enabled: true
    emailReceivers: [
      for (address, index) in emails: {
        name: 'email-${index}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
  }
}

var actionGroupIds = notify ? [actionGroup.id] : []

resource deadLetterAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-dead-letters'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'SMTP relay: message dead-lettered'
    description: 'A message was dead-lettered (RELAY_DEADLETTER_QUEUE_NAME) or moved to the host\'s poison queue. The reason dimension names the cause; the dead-letter record has the provider\'s reply and the remedy. Replay after fixing: oauth2-smtp-relay replay --reason <reason>.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsResourceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: deadLetterQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'reason'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // Stateful: one notification per reason until a window passes without it.
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

resource monitorCriticalAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-secret-monitor-critical'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'SMTP relay: secret monitor critical or error alert'
    description: 'The secret monitor raised a critical or error alert (such as secret_expiry_critical, secret_expired, secret_disabled, secret_unreadable, token_acquisition_failed, secret_rotation_failed): mail stops soon or has stopped. The alertName dimension names it; the log line carries the remedy.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsResourceId
    ]
    // The monitor runs every 15 minutes (MONITOR_SCHEDULE) and raises each alert once; the 30-minute window
    // overlaps two evaluations so a late-ingested event is still seen.
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: '${monitorAlertQuery}| where alertSeverity in ("critical", "error")\n| project timestamp, alertName, alertSeverity, message\n'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'alertName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

resource monitorWarningAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-secret-monitor-warning'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'SMTP relay: secret monitor warning'
    description: 'The secret monitor raised a warning (secret_expiry_warning, secret_no_expiry, a passing secret_unreadable, or an old client secret that rotation could not remove): act before the client secret expires. The alertName dimension names it; the log line carries the remedy.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsResourceId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: '${monitorAlertQuery}| where alertSeverity == "warning"\n| project timestamp, alertName, alertSeverity, message\n'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'alertName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

output actionGroupId string = notify ? actionGroup.id : ''
output alertRuleIds array = [
  deadLetterAlert.id
  monitorCriticalAlert.id
  monitorWarningAlert.id
]
