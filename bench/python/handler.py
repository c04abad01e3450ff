"""The seed's Python submit handler, as far as its cold start goes: what the original backend imports and builds
at module level before it can take a request (boto3, a DynamoDB table resource, an SQS client, the settings).
The benchmark measures how long a process needs from exec to its first poll of the runtime API.
"""

import json
import os
import uuid
from datetime import datetime, timezone

import boto3

WORKFLOW_STATE_TABLE = os.environ.get("WORKFLOW_STATE_TABLE", "tradai-workflow-state")
BACKTEST_QUEUE_URL = os.environ["BACKTEST_QUEUE_URL"]
EXECUTOR_MODE = os.environ.get("EXECUTOR_MODE", "")

dynamodb = boto3.resource("dynamodb")
table = dynamodb.Table(WORKFLOW_STATE_TABLE)
sqs = boto3.client("sqs")


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    run_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc).isoformat()
    table.put_item(
        Item={"run_id": run_id, "status": "QUEUED", "created_at": now, "updated_at": now, **body},
        ConditionExpression="attribute_not_exists(run_id)",
    )
    sqs.send_message(
        QueueUrl=BACKTEST_QUEUE_URL,
        MessageBody=json.dumps({"run_id": run_id, **body}),
        MessageGroupId=body.get("strategy_name", "default"),
        MessageDeduplicationId=run_id,
    )
    return {"statusCode": 202, "body": json.dumps({"run_id": run_id, "status": "QUEUED"})}
