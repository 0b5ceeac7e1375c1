//! Who is calling: bearer tokens issued by `tessera clients add`, or JWTs from an OIDC issuer.
//!
//! A token is 32 random bytes, shown once as `tsr_<base64url>`; the store keeps only its keyed
//! hash (HMAC-SHA256 under the keyring's index key), so a copy of the database cannot be used to
//! call the API. A JWT is accepted when it is signed by the configured issuer's public key and
//! names a role (`role` claim); a person's JWT names one of their records (`record` claim,
//! `source/key`), which finds their profile whatever its id.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tessera_model::{RecordKey, SourceId};
use tessera_policy::Role;
use tessera_seal::Keyring;
use tessera_store::RecordAddress;

use crate::error::ApiError;
use crate::state::AppState;

/// The prefix of every token Tessera issues, so a leaked one is easy to recognise.
const TOKEN_PREFIX: &str = "tsr_";

/// A new random token, to be shown once.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a token.
pub fn token_hash(keyring: &Keyring, token: &str) -> [u8; 32] {
    let mut data = b"tessera-token\0".to_vec();
    data.extend_from_slice(token.as_bytes());
    keyring.keyed_hash(&data)
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// For a person: one of their records.
    pub anchor: Option<RecordAddress>,
    /// The sources the caller may send records to.
    pub sources: Vec<String>,
}

/// How to check JWTs from an identity provider.
#[derive(Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

impl JwtConfig {
    /// From the issuer's public key in PEM: Ed25519 (EdDSA), RSA (RS256) or P-256 (ES256).
    pub fn from_pem(issuer: &str, audience: &str, pem: &[u8]) -> Result<JwtConfig, String> {
        let text = String::from_utf8_lossy(pem);
        type Parse = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;
        let attempts: [(Algorithm, Parse); 3] = [
            (Algorithm::EdDSA, DecodingKey::from_ed_pem),
            (Algorithm::RS256, DecodingKey::from_rsa_pem),
            (Algorithm::ES256, DecodingKey::from_ec_pem),
        ];
        for (algorithm, parse) in attempts {
            if let Ok(key) = parse(pem) {
                return Ok(JwtConfig {
                    issuer: issuer.to_string(),
                    audience: audience.to_string(),
                    key,
                    algorithm,
                });
            }
        }
        Err(format!(
            "not an Ed25519, RSA or P-256 public key in PEM (starts {:?})",
            text.chars().take(30).collect::<String>()
        ))
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    sources: Vec<String>,
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(ApiError::TokenMissing)?;
    let text = header.to_str().map_err(|_| ApiError::TokenInvalid)?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or(ApiError::TokenMissing)?
        .trim();
    if token.is_empty() {
        return Err(ApiError::TokenMissing);
    }
    Ok(token)
}

/// Parses `source/key` as a record address.
pub(crate) fn parse_address(text: &str) -> Option<RecordAddress> {
    let (source, key) = text.split_once('/')?;
    Some((SourceId::new(source).ok()?, RecordKey::new(key).ok()?))
}

fn from_jwt(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let config = state.jwt.as_ref().ok_or(ApiError::TokenInvalid)?;
    let mut validation = Validation::new(config.algorithm);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &config.key, &validation).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::TokenExpired,
                _ => ApiError::TokenInvalid,
            }
        })?;
    let claims = data.claims;
    let role = Role::from_name(&claims.role).ok_or(ApiError::TokenInvalid)?;
    let anchor = match (role, claims.record.as_deref()) {
        (Role::Person, Some(record)) => Some(parse_address(record).ok_or(ApiError::TokenInvalid)?),
        (Role::Person, None) => return Err(ApiError::TokenInvalid),
        _ => None,
    };
    Ok(Caller {
        id: format!("oidc:{}", claims.sub),
        name: claims.name.unwrap_or(claims.sub),
        role,
        anchor,
        sources: claims.sources,
    })
}

fn from_token(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Err(ApiError::TokenInvalid);
    }
    let hash = token_hash(&state.keyring(), token);
    let client = state
        .store
        .client_by_token_hash(&hash)?
        .ok_or(ApiError::TokenInvalid)?;
    if client.revoked_at.is_some() {
        return Err(ApiError::TokenRevoked);
    }
    let role = Role::from_name(&client.role)
        .ok_or_else(|| ApiError::internal(format!("client {} has an unknown role", client.id)))?;
    Ok(Caller {
        id: client.id,
        name: client.name,
        role,
        anchor: client.anchor,
        sources: client.sources,
    })
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Caller, ApiError> {
        let token = bearer(parts)?;
        let caller = if token.matches('.').count() == 2 {
            from_jwt(state, token)?
        } else {
            // One indexed read (tens of microseconds on SQLite: cheaper on the async thread
            // than a hand-over to the blocking pool and back).
            let (shared, token) = (Arc::clone(state), token.to_string());
            crate::quick(state, move || from_token(&shared, &token)).await?
        };
        if state.limiter.check_key(&caller.id).is_err() {
            return Err(ApiError::RateLimited);
        }
        Ok(caller)
    }
}

/// The purpose a request names: the `Tessera-Purpose` header, else the `purpose` query parameter.
pub(crate) struct StatedPurpose(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for StatedPurpose {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<StatedPurpose, ApiError> {
        if let Some(value) = parts.headers.get("tessera-purpose") {
            let text = value
                .to_str()
                .map_err(|_| ApiError::BadRequest("Tessera-Purpose must be ASCII".into()))?;
            return Ok(StatedPurpose(Some(text.trim().to_string())));
        }
        let from_query = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("purpose=").map(|v| v.to_string()))
        });
        Ok(StatedPurpose(from_query))
    }
}
