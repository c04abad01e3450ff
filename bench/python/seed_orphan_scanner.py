"""The original design's orphan scanner (its section 14.3), as written there, run on a table of ours.

Usage: seed_orphan_scanner.py <table> <topic-arn>, with AWS_ENDPOINT_URL pointing at the stand-in. Prints how long
the handler took, how many jobs it marked FAILED, and how many of those were healthy long runs (created 6 h ago,
heartbeat a minute ago) that it killed because it judges by created_at.
"""

import json
import os
import sys
import time
from datetime import datetime, timedelta

import boto3

os.environ['WORKFLOW_STATE_TABLE'] = sys.argv[1]
os.environ['ALERT_TOPIC_ARN'] = sys.argv[2]
endpoint = os.environ.get('AWS_ENDPOINT_URL')

# --- the original, unchanged but for the endpoint ---------------------------------------------------------------
dynamodb = boto3.resource('dynamodb', endpoint_url=endpoint)
table = dynamodb.Table(os.environ['WORKFLOW_STATE_TABLE'])
cloudwatch = boto3.client('cloudwatch', endpoint_url=endpoint)
sns = boto3.client('sns', endpoint_url=endpoint)

MAX_RUNNING_MINUTES = int(os.environ.get('MAX_RUNNING_MINUTES', '90'))
ALERT_TOPIC_ARN = os.environ.get('ALERT_TOPIC_ARN')


def handler(event, context):
    threshold = datetime.utcnow() - timedelta(minutes=MAX_RUNNING_MINUTES)
    threshold_iso = threshold.isoformat()
    response = table.query(
        IndexName='status-created_at-index',
        KeyConditionExpression='#s = :status AND created_at < :threshold',
        ExpressionAttributeNames={'#s': 'status'},
        ExpressionAttributeValues={':status': 'RUNNING', ':threshold': threshold_iso},
    )
    orphaned_jobs = response.get('Items', [])
    orphan_count = len(orphaned_jobs)
    cloudwatch.put_metric_data(
        Namespace='TradAI/Backtests',
        MetricData=[{'MetricName': 'OrphanedJobs', 'Value': orphan_count, 'Unit': 'Count',
                     'Dimensions': [{'Name': 'Environment', 'Value': os.environ.get('ENVIRONMENT', 'dev')}]}],
    )
    for job in orphaned_jobs:
        run_id = job['run_id']
        running_since = job.get('updated_at', job.get('created_at'))
        table.update_item(
            Key={'run_id': run_id},
            UpdateExpression='SET #s = :s, #e = :e, updated_at = :t',
            ExpressionAttributeNames={'#s': 'status', '#e': 'error'},
            ExpressionAttributeValues={
                ':s': 'FAILED',
                ':e': f'Orphaned: RUNNING since {running_since}, exceeded {MAX_RUNNING_MINUTES}min threshold',
                ':t': datetime.utcnow().isoformat(),
            },
        )
    if orphan_count > 0 and ALERT_TOPIC_ARN:
        sns.publish(TopicArn=ALERT_TOPIC_ARN, Subject=f'[TradAI] {orphan_count} Orphaned Jobs Detected',
                    Message='\n'.join(f"- {job['run_id']}" for job in orphaned_jobs)[:200000])
    return {'orphan_count': orphan_count, 'jobs_marked_failed': [job['run_id'] for job in orphaned_jobs]}
# -------------------------------------------------------------------------------------------------------------


started = time.perf_counter()
answer = handler({}, None)
seconds = time.perf_counter() - started
six_hours_ago = (datetime.utcnow() - timedelta(hours=5)).isoformat()
killed = 0
for run_id in answer['jobs_marked_failed']:
    item = table.get_item(Key={'run_id': run_id})['Item']
    if item['created_at'] < six_hours_ago:
        killed += 1
print(json.dumps({'marked_failed': answer['orphan_count'], 'healthy_long_runs_killed': killed,
                  'seconds': seconds, 'jobs_per_second': answer['orphan_count'] / seconds}))
