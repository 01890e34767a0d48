//! The SDK's own stand-in for an AWS endpoint: aws-smithy-http-client's `StaticReplayClient`
//! gives each request, in turn, the next of a list of answers, and keeps the requests. For the
//! answers moto cannot give: throttling, access denied, a 5xx, an entry rejected, an answer cut
//! off mid-body. No answer at all is [`refused_endpoint`](super::refused_endpoint) instead.

use std::pin::Pin;
use std::task::{Context, Poll};

use aws_sdk_iam::config::http::{HttpRequest, HttpResponse};
use aws_sdk_iam::config::{BehaviorVersion, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body::Frame;

use super::moto::test_credentials;

/// One stand-in endpoint; clone its clients freely, they share the answers and the record.
pub struct Replay {
    http: StaticReplayClient,
}

impl Replay {
    /// Gives `answer` to each of at most `times` requests; past that, the call fails as a
    /// connection would.
    pub fn answering(times: usize, answer: impl Fn() -> HttpResponse) -> Replay {
        let events = (0..times)
            // The expected request is never checked: these tests read the actual ones.
            .map(|_| ReplayEvent::new(HttpRequest::new(SdkBody::empty()), answer()))
            .collect();
        Replay {
            http: StaticReplayClient::new(events),
        }
    }

    /// Gives each request the next of `answers`, in turn.
    pub fn in_turn(answers: Vec<HttpResponse>) -> Replay {
        let events = answers
            .into_iter()
            .map(|answer| ReplayEvent::new(HttpRequest::new(SdkBody::empty()), answer))
            .collect();
        Replay {
            http: StaticReplayClient::new(events),
        }
    }

    /// An IAM client whose calls this endpoint answers; one attempt only, so the error
    /// classification is what is tested (the state machine does the retrying).
    pub fn iam(&self) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(test_credentials())
            .http_client(self.http.clone())
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    /// An SNS client whose calls this endpoint answers; one attempt only, like [`Replay::iam`].
    pub fn sns(&self) -> aws_sdk_sns::Client {
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(test_credentials())
            .http_client(self.http.clone())
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        aws_sdk_sns::Client::from_conf(config)
    }

    /// An EventBridge client whose calls this endpoint answers; one attempt only.
    pub fn events(&self) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(test_credentials())
            .http_client(self.http.clone())
            .retry_config(
                aws_sdk_eventbridge::config::retry::RetryConfig::standard().with_max_attempts(1),
            )
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }

    /// A Step Functions client whose calls this endpoint answers; one attempt only.
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        let config = aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(test_credentials())
            .http_client(self.http.clone())
            .retry_config(aws_sdk_sfn::config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        aws_sdk_sfn::Client::from_conf(config)
    }

    /// The body of each request answered so far, in order.
    pub fn request_bodies(&self) -> Vec<String> {
        self.http
            .actual_requests()
            .map(|request| {
                String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned()
            })
            .collect()
    }
}

/// A complete answer, as the service sends it.
pub fn answer(status: u16, content_type: &'static str, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(status.try_into().expect("a status"), SdkBody::from(body));
    let headers = response.headers_mut();
    headers.insert("content-type", content_type);
    headers.insert("content-length", body.len().to_string());
    headers.insert("x-amzn-requestid", "6f1f7b1e-0000-4000-8000-000000000000");
    response
}

/// A 200 answer whose body breaks off after `sent`, short of the `length` announced: the
/// connection dropped mid-answer.
pub fn cut_off(content_type: &'static str, length: usize, sent: &'static str) -> HttpResponse {
    assert!(
        sent.len() < length,
        "a cut-off body is shorter than announced"
    );
    let body = SdkBody::from_body_1_x(BrokenOff {
        sent: Some(Bytes::from_static(sent.as_bytes())),
        length,
    });
    let mut response = HttpResponse::new(200.try_into().expect("a status"), body);
    let headers = response.headers_mut();
    headers.insert("content-type", content_type);
    headers.insert("content-length", length.to_string());
    headers.insert("x-amzn-requestid", "1c2d3e4f-0000-4000-8000-000000000000");
    response
}

/// A response body that yields its first bytes, then fails as a dropped connection does.
struct BrokenOff {
    sent: Option<Bytes>,
    length: usize,
}

impl http_body::Body for BrokenOff {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(match self.sent.take() {
            Some(bytes) => Ok(Frame::data(bytes)),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the connection closed before the {}-byte body ended",
                    self.length
                ),
            )),
        }))
    }
}
