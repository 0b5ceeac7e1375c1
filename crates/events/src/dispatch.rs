//! The dispatcher: one round delivers, for every subscription whose lease it can take, the
//! events after the subscription's cursor, in order, stopping at the first that fails.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tessera_policy::{AccessEntry, Action, Operation, Policy, Role, chain_hash};
use tessera_seal::{Keyring, Sealed};
use tessera_store::{ClientRow, Database, NewAccess, Subscription, SubscriptionTarget};

use crate::jetstream::JetStreamSink;
use crate::message::{EventMessage, Selection, select};
use crate::{DeliveryError, signature};

/// How a dispatcher paces itself.
#[derive(Clone, Debug)]
pub struct DispatchConfig {
    /// How long a subscription's lease lasts; renewed while delivering. Another process takes
    /// the subscription over when its holder has not renewed it for this long.
    pub lease: Duration,
    /// Events read from the outbox at a time, per subscription.
    pub batch: usize,
    /// How long a webhook may take to answer.
    pub webhook_timeout: Duration,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            lease: Duration::from_secs(30),
            batch: 200,
            webhook_timeout: Duration::from_secs(10),
        }
    }
}

/// What one round did.
#[derive(Clone, Debug, Default)]
pub struct RoundReport {
    pub delivered: u64,
    /// Events a subscription does not receive (another kind, or not for its purpose).
    pub skipped: u64,
    /// `subscription: reason` for each subscription whose delivery stopped at a failure.
    pub failures: Vec<String>,
}

/// The associated data a webhook secret is sealed under: binds it to its subscription.
pub fn secret_aad(subscription: &str) -> Vec<u8> {
    let mut aad = b"tessera-subscription-secret\0".to_vec();
    aad.extend_from_slice(subscription.as_bytes());
    aad
}

/// Delivers change events (see the crate's documentation).
pub struct Dispatcher {
    store: Arc<dyn Database>,
    policy: Arc<Policy>,
    keyring: Arc<dyn Fn() -> Arc<Keyring> + Send + Sync>,
    /// This process's name in leases: unique per running dispatcher.
    holder: String,
    http: reqwest::Client,
    /// Where JetStream is and the registry's NATS prefix, and the connection once a JetStream
    /// subscription needed it (a registry with only webhooks never connects).
    nats: Option<(String, String)>,
    jetstream: tokio::sync::Mutex<Option<JetStreamSink>>,
    config: DispatchConfig,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Database>,
        policy: Arc<Policy>,
        keyring: Arc<dyn Fn() -> Arc<Keyring> + Send + Sync>,
        holder: String,
        nats: Option<(String, String)>,
        config: DispatchConfig,
    ) -> Dispatcher {
        Dispatcher {
            store,
            policy,
            keyring,
            holder,
            http: reqwest::Client::new(),
            nats,
            jetstream: tokio::sync::Mutex::new(None),
            config,
        }
    }

    /// Delivers what waits for every subscription, once.
    pub async fn round(&self) -> RoundReport {
        let mut report = RoundReport::default();
        let read = (|| {
            Ok::<_, tessera_store::StoreError>((
                self.store.subscriptions()?,
                self.store.change_head()?,
            ))
        })();
        let (subscriptions, head) = match read {
            Ok(read) => read,
            Err(error) => {
                report
                    .failures
                    .push(format!("reading subscriptions: {error}"));
                return report;
            }
        };
        // An idle round only reads: a write would cost every reader of a SQLite store its
        // page cache.
        let waiting: Vec<&Subscription> =
            subscriptions.iter().filter(|s| s.cursor < head).collect();
        if waiting.is_empty() {
            return report;
        }
        let clients = match self.store.clients() {
            Ok(clients) => clients,
            Err(error) => {
                report.failures.push(format!("reading clients: {error}"));
                return report;
            }
        };
        let clients: HashMap<&str, &ClientRow> =
            clients.iter().map(|c| (c.id.as_str(), c)).collect();
        for subscription in waiting {
            let client = clients.get(subscription.client_id.as_str()).copied();
            let delivered = self.deliver(subscription, client, &mut report).await;
            let outcome = match delivered {
                // Free the subscription for whichever process comes next (this one's next
                // round, or another node's); the cursor says where it goes on.
                Ok(true) => self
                    .store
                    .release_subscription(subscription.id, &self.holder)
                    .map_err(DeliveryError::from),
                Ok(false) => Ok(()),
                Err(error) => {
                    let _ = self
                        .store
                        .release_subscription(subscription.id, &self.holder);
                    Err(error)
                }
            };
            if let Err(error) = outcome {
                report
                    .failures
                    .push(format!("{}: {error}", subscription.name));
            }
        }
        report
    }

    /// Runs rounds until `stop` says so, pausing `poll` after a round that found nothing, and
    /// longer (up to a minute, doubling) while deliveries keep failing.
    pub async fn run(&self, poll: Duration, stop: impl Fn() -> bool) {
        let mut backoff = poll;
        while !stop() {
            let report = self.round().await;
            for failure in &report.failures {
                tracing::warn!(failure = %failure, "change event delivery stopped; will retry");
            }
            let pause = if !report.failures.is_empty() {
                backoff = (backoff * 2).min(Duration::from_secs(60));
                backoff
            } else {
                backoff = poll;
                if report.delivered == 0 && report.skipped == 0 {
                    poll
                } else {
                    Duration::ZERO
                }
            };
            let until = std::time::Instant::now() + pause;
            while std::time::Instant::now() < until && !stop() {
                tokio::time::sleep(poll.min(until - std::time::Instant::now())).await;
            }
        }
    }

    /// Takes or renews the subscription's lease; its cursor as it stands, or `None` when
    /// another process holds it.
    fn take_lease(&self, subscription: &Subscription) -> Result<Option<u64>, DeliveryError> {
        let now = Utc::now().timestamp_millis();
        let until = now + self.config.lease.as_millis() as i64;
        Ok(self
            .store
            .lease_subscription(subscription.id, &self.holder, now, until)?)
    }

    /// Delivers what waits for one subscription; whether it took the lease.
    async fn deliver(
        &self,
        subscription: &Subscription,
        client: Option<&ClientRow>,
        report: &mut RoundReport,
    ) -> Result<bool, DeliveryError> {
        // A revoked (or removed) client's subscription receives nothing.
        let Some(client) = client.filter(|c| c.revoked_at.is_none()) else {
            return Ok(false);
        };
        let role = Role::from_name(&client.role)
            .ok_or_else(|| DeliveryError::Refused(format!("unknown role {:?}", client.role)))?;
        let grant = self
            .policy
            .authorize(role, Some(&subscription.purpose), Operation::Read)
            .map_err(|refusal| DeliveryError::Refused(refusal.to_string()))?;
        // The cursor as the lease finds it: another process may have delivered since the
        // subscriptions were read.
        let Some(cursor) = self.take_lease(subscription)? else {
            return Ok(false);
        };
        let mut leased = Instant::now();
        let events = self.store.changes_after(cursor, self.config.batch)?;
        // Events passed over (not for this subscriber) since the cursor last moved: the cursor
        // moves past them with the next delivery, or at the end, one write for many.
        let mut passed_over = None;
        for event in events {
            if leased.elapsed() > self.config.lease / 3 {
                if self.take_lease(subscription)?.is_none() {
                    return Ok(true);
                }
                leased = Instant::now();
            }
            let record = match event.record {
                Some(id) => self.store.record(id)?,
                None => None,
            };
            let chosen = match select(&event, subscription, &grant, record.as_ref()) {
                Selection::Deliver { message, kinds }
                    if !grant.consent_required
                        || self
                            .store
                            .has_consent(&event.profile, grant.purpose.as_str())? =>
                {
                    Some((message, kinds))
                }
                _ => None,
            };
            let Some((message, kinds)) = chosen else {
                report.skipped += 1;
                passed_over = Some(event.seq);
                continue;
            };
            self.log(subscription, client, role, &message, kinds)?;
            self.send(subscription, &message).await?;
            report.delivered += 1;
            passed_over = None;
            if !self
                .store
                .advance_subscription(subscription.id, &self.holder, event.seq)?
            {
                // Another process took the subscription over; it goes on from the cursor.
                return Ok(true);
            }
        }
        if let Some(seq) = passed_over {
            self.store
                .advance_subscription(subscription.id, &self.holder, seq)?;
        }
        Ok(true)
    }

    /// The delivery's access-log entry, appended before anything leaves.
    fn log(
        &self,
        subscription: &Subscription,
        client: &ClientRow,
        role: Role,
        message: &EventMessage,
        kinds: Vec<String>,
    ) -> Result<(), DeliveryError> {
        let entry = AccessEntry {
            at: Utc::now(),
            client: client.id.clone(),
            client_name: client.name.clone(),
            role,
            purpose: Some(subscription.purpose.clone()),
            action: Action::Deliver,
            profile: Some(message.profile.clone()),
            kinds,
            request_id: format!("event:{}:{}", subscription.name, message.seq),
            detail: Some(format!(
                "subscription={} event={}",
                subscription.name, message.kind
            )),
        };
        self.store.append_access(
            &[NewAccess {
                entry: entry.to_json(),
                profile: Some(tessera_model::ProfileId::new(message.profile.clone())),
            }],
            chain_hash,
        )?;
        Ok(())
    }

    async fn send(
        &self,
        subscription: &Subscription,
        message: &EventMessage,
    ) -> Result<(), DeliveryError> {
        // Invariant: a message is strings, numbers and model attributes, all serialisable.
        let body = serde_json::to_vec(message).expect("an event message serialises to json");
        match &subscription.target {
            SubscriptionTarget::Webhook { url } => {
                let secret = self.secret(subscription)?;
                let signed = signature::sign(&secret, Utc::now().timestamp(), &body);
                let response = self
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .header(signature::HEADER, signed)
                    .header("Tessera-Event-Id", &message.id)
                    .timeout(self.config.webhook_timeout)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| DeliveryError::WebhookUnreachable {
                        url: url.clone(),
                        reason: e.to_string(),
                    })?;
                if !response.status().is_success() {
                    return Err(DeliveryError::WebhookStatus {
                        url: url.clone(),
                        status: response.status().as_u16(),
                    });
                }
                Ok(())
            }
            SubscriptionTarget::JetStream { subject } => {
                let (url, prefix) = self
                    .nats
                    .as_ref()
                    .ok_or_else(|| DeliveryError::NoJetStream(subject.clone()))?;
                let mut connection = self.jetstream.lock().await;
                let sink = match connection.as_ref() {
                    Some(sink) => sink.clone(),
                    None => connection
                        .insert(JetStreamSink::connect(url, prefix).await?)
                        .clone(),
                };
                drop(connection);
                let id = format!("{}:{}", subscription.name, message.id);
                sink.publish(subject, &id, body).await
            }
        }
    }

    fn secret(&self, subscription: &Subscription) -> Result<Vec<u8>, DeliveryError> {
        let sealed = subscription
            .sealed_secret
            .as_deref()
            .ok_or_else(|| DeliveryError::Secret("the subscription has none".into()))?;
        let sealed =
            Sealed::from_bytes(sealed).map_err(|e| DeliveryError::Secret(e.to_string()))?;
        let opened = (self.keyring)()
            .open(&sealed, &secret_aad(&subscription.name))
            .map_err(|e| DeliveryError::Secret(e.to_string()))?;
        Ok(opened.to_vec())
    }
}
