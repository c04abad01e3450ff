//! Fresh resources for one test, made from the definitions in `template.yaml`: a workflow table with the
//! template's keys and index, and the backtest FIFO queue with its dead-letter queue and redrive policy.

use std::collections::HashMap;

use aws_config::SdkConfig;
use tradai::store::DynamoDbStore;

use crate::moto;

/// One test's own resources; names are unique, so tests run in parallel.
pub struct Stack {
    pub sdk: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub idempotency_table: String,
    /// The sweep table (`SWEEP_TABLE`).
    pub sweep_table: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub s3: aws_sdk_s3::Client,
    /// The market-data bucket, and `MARKET_DATA_S3_URI` as the template sets it (prefix `ohlcv`).
    pub market_data_bucket: String,
    pub market_data: tradai::market_data::DataLocation,
    /// The configs bucket (`S3_CONFIG_BUCKET`): strategies' base configs and merged run configs.
    pub config_bucket: String,
    /// The results bucket (`S3_RESULTS_BUCKET`): `results/{run_id}/`.
    pub results_bucket: String,
    /// The log group strategy containers print to (`STRATEGY_LOG_GROUP`).
    pub strategy_log_group: String,
}

impl Stack {
    /// Creates the table, the queues and the buckets in the stand-in.
    pub async fn fresh() -> Stack {
        Self::create(moto::sdk_config().await).await
    }

    /// Creates the table, the queues and the buckets where `sdk` points.
    pub async fn create(sdk: SdkConfig) -> Stack {
        crate::capture_logs();
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let template = tradai_local::Template::project().unwrap_or_else(|error| panic!("{error}"));
        let resources = tradai_local::Resources::create(template, &sdk, &suffix)
            .await
            .unwrap_or_else(|error| panic!("{}", tradai::report::chain(&error)));
        Self::of(&resources, sdk)
    }

    /// Clients of `sdk` for `resources`.
    pub fn of(resources: &tradai_local::Resources, sdk: SdkConfig) -> Stack {
        let market_data =
            tradai::market_data::DataLocation::parse(&resources.market_data_uri()).expect("a valid location");
        Stack {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            s3: tradai::aws::s3_client(&sdk),
            sdk,
            table: resources.table.clone(),
            idempotency_table: resources.idempotency_table.clone(),
            sweep_table: resources.sweep_table.clone(),
            queue_url: resources.queue_url.clone(),
            dead_letter_queue_url: resources.dead_letter_queue_url.clone(),
            market_data_bucket: resources.market_data_bucket.clone(),
            market_data,
            config_bucket: resources.config_bucket.clone(),
            results_bucket: resources.results_bucket.clone(),
            strategy_log_group: resources.strategy_log_group.clone(),
        }
    }

    /// The sweeps over this stack's sweep table.
    pub fn sweeps(&self) -> tradai::sweep::DynamoDbSweeps {
        tradai::sweep::DynamoDbSweeps::new(self.dynamodb.clone(), &self.sweep_table)
    }

    /// The idempotency keys over this stack's idempotency table.
    pub fn keys(&self) -> tradai::idempotency::DynamoDbKeys {
        tradai::idempotency::DynamoDbKeys::new(self.dynamodb.clone(), &self.idempotency_table)
    }

    /// Puts `bytes` at `key` in the market-data bucket.
    pub async fn put_market_data(&self, key: &str, bytes: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.market_data_bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .expect("object written");
    }

    /// Puts a config at `key` in the configs bucket; answers its `s3://` URI.
    pub async fn put_config(&self, key: &str, bytes: Vec<u8>) -> String {
        self.s3
            .put_object()
            .bucket(&self.config_bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .expect("config written");
        format!("s3://{}/{key}", self.config_bucket)
    }

    /// Puts `bytes` at `key` in the results bucket.
    pub async fn put_result(&self, key: &str, bytes: Vec<u8>) {
        tradai::objects::ObjectStore::put(&self.results(), key, bytes)
            .await
            .expect("result written");
    }

    /// Creates ECR repository `repository` with one image tagged `tag` (a minimal manifest); answers the
    /// repository's URI.
    pub async fn push_image(&self, repository: &str, tag: &str) -> String {
        let ecr = aws_sdk_ecr::Client::new(&self.sdk);
        let uri = ecr
            .create_repository()
            .repository_name(repository)
            .send()
            .await
            .expect("repository")
            .repository
            .and_then(|r| r.repository_uri)
            .expect("repository URI");
        let manifest = serde_json::json!({"schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
            "digest": "sha256:00"}, "layers": []});
        ecr.put_image()
            .repository_name(repository)
            .image_manifest(manifest.to_string())
            .image_tag(tag)
            .send()
            .await
            .expect("image");
        uri
    }

    /// Candles for `pairs` (binance, 5m) in the market-data bucket: `rows` of them, the last one `age_hours` old.
    pub async fn put_candles(&self, pairs: &[&str], age_hours: i64, rows: usize) {
        use tradai::backtest::{Symbol, Timeframe};
        for pair in pairs {
            let symbol = Symbol::try_from((*pair).to_owned()).expect("a pair");
            let key = tradai::market_data::dataset_key(&self.market_data, "binance", &symbol, Timeframe::M5);
            let file = crate::candles::CandleFile::ending_at(
                tradai::time::Timestamp::now().minus(chrono::TimeDelta::hours(age_hours)),
                chrono::TimeDelta::minutes(5),
                rows,
            );
            self.put_market_data(&key, file.to_parquet()).await;
        }
    }

    /// The results bucket as an object store.
    pub fn results(&self) -> tradai::objects::S3Objects {
        tradai::objects::S3Objects::new(self.s3.clone(), &self.results_bucket)
    }

    /// The keys under `prefix` in `bucket`.
    pub async fn keys_in(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("listed");
        listed
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect()
    }

    /// The market-data bucket as an object store.
    pub fn market_objects(&self) -> tradai::objects::S3Objects {
        tradai::objects::S3Objects::new(self.s3.clone(), &self.market_data_bucket)
    }

    /// The workflow store over this stack's table.
    pub fn store(&self) -> DynamoDbStore {
        DynamoDbStore::new(self.dynamodb.clone(), &self.table)
    }

    /// A state machine of its own whose executions wait an hour (the stand-in does not run them).
    pub async fn state_machine(&self) -> String {
        aws_sdk_sfn::Client::new(&self.sdk)
            .create_state_machine()
            .name(format!("tradai-backtest-{}", uuid::Uuid::new_v4().simple()))
            .definition(r#"{"StartAt":"Wait","States":{"Wait":{"Type":"Wait","Seconds":3600,"End":true}}}"#)
            .role_arn("arn:aws:iam::123456789012:role/tradai-tests")
            .send()
            .await
            .expect("state machine")
            .state_machine_arn
    }

    /// A Step Functions execution that keeps running (a long Wait) until stopped: its ARN.
    pub async fn running_execution(&self) -> String {
        let sfn = aws_sdk_sfn::Client::new(&self.sdk);
        let machine = self.state_machine().await;
        sfn.start_execution()
            .state_machine_arn(machine)
            .name(uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .expect("execution")
            .execution_arn
    }

    /// An ECS task that keeps running until stopped: its ARN.
    pub async fn running_task(&self) -> String {
        let ecs = aws_sdk_ecs::Client::new(&self.sdk);
        let cluster = format!("tradai-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        ecs.create_cluster()
            .cluster_name(&cluster)
            .send()
            .await
            .expect("cluster");
        let container = aws_sdk_ecs::types::ContainerDefinition::builder()
            .name("strategy")
            .image("strategy:latest")
            .memory(512)
            .essential(true)
            .build();
        ecs.register_task_definition()
            .family("strategy-tests")
            .container_definitions(container)
            .send()
            .await
            .expect("task definition");
        let tasks = ecs
            .run_task()
            .cluster(&cluster)
            .task_definition("strategy-tests")
            .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
            .send()
            .await
            .expect("task")
            .tasks
            .unwrap_or_default();
        tasks
            .first()
            .and_then(|task| task.task_arn.clone())
            .expect("a task ARN")
    }

    /// Every item in the job table, read with a consistent scan.
    pub async fn items(&self) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.scan(&self.table).await
    }

    /// Every item in the sweep table, read with a consistent scan.
    pub async fn sweep_items(&self) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.scan(&self.sweep_table).await
    }

    async fn scan(&self, table: &str) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// A queue of its own subscribed to SNS topic `topic_arn`: what it receives is what subscribers get.
    pub async fn subscribed_queue(&self, topic_arn: &str) -> String {
        let name = format!("inbox-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let url = self
            .sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("queue URL");
        let arn = format!("arn:aws:sqs:{}:{}:{name}", tradai_local::REGION, tradai_local::ACCOUNT);
        aws_sdk_sns::Client::new(&self.sdk)
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .expect("subscribed");
        url
    }

    /// Every message waiting in `queue_url` (received, not deleted), as JSON bodies with their attributes.
    pub async fn messages(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let mut messages = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .visibility_timeout(60)
                .send()
                .await
                .expect("receive");
            let batch = received.messages.unwrap_or_default();
            if batch.is_empty() {
                return messages;
            }
            messages.extend(batch);
        }
    }
}
