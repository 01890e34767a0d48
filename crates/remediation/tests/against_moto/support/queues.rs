//! SQS queues that read back what SNS and EventBridge delivered.

/// An SQS queue to read deliveries back from: its URL and ARN.
pub struct Queue {
    pub url: String,
    pub arn: String,
}

pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Queue {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes");
    let arn = attributes
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("a queue ARN");
    Queue { url, arn }
}

/// Receives the queue's messages: polls at most `tries` times (up to 1 s each) and returns the
/// bodies of the first non-empty answer, or nothing once the tries are used up.
pub async fn receive(sqs: &aws_sdk_sqs::Client, queue: &Queue, tries: usize) -> Vec<String> {
    for _ in 0..tries {
        let bodies = batch(sqs, queue, false).await;
        if !bodies.is_empty() {
            return bodies;
        }
    }
    Vec::new()
}

/// One batch of the queue's messages (a poll of up to 1 s), deleted once read.
pub async fn take(sqs: &aws_sdk_sqs::Client, queue: &Queue) -> Vec<String> {
    batch(sqs, queue, true).await
}

/// One ReceiveMessage of up to ten messages, waiting up to 1 s: each as SQS gave it (its
/// receipt handle too), in flight until deleted.
pub async fn received(
    sqs: &aws_sdk_sqs::Client,
    queue: &Queue,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default()
}

/// One ReceiveMessage's bodies; `delete`: each is deleted once read, so the next batch holds
/// only newer ones.
async fn batch(sqs: &aws_sdk_sqs::Client, queue: &Queue, delete: bool) -> Vec<String> {
    let mut bodies = Vec::new();
    for message in received(sqs, queue).await {
        if let Some(body) = message.body() {
            bodies.push(body.to_owned());
        }
        if delete {
            sqs.delete_message()
                .queue_url(&queue.url)
                .set_receipt_handle(message.receipt_handle().map(str::to_owned))
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
    bodies
}
