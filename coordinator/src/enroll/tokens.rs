//! Enrollment tokens: created by an operator (the secret is shown once, only its hash is
//! stored), listed, and revoked.

use super::*;

impl Enroller {
    /// Creates a token; returns the secret (shown once) and what is stored.
    pub fn create_token(
        &self,
        labels: BTreeMap<String, String>,
        ttl: Duration,
        uses: u32,
        id_pattern: String,
        by: &str,
    ) -> Result<(String, TokenInfo), EnrollError> {
        if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
            return Err(EnrollError::BadRequest(
                "ttl must be between 1s and 30 days".into(),
            ));
        }
        if uses == 0 || uses > MAX_TOKEN_USES {
            return Err(EnrollError::BadRequest(format!(
                "uses must be between 1 and {MAX_TOKEN_USES}"
            )));
        }
        if labels.len() > 64 {
            return Err(EnrollError::BadRequest("at most 64 labels".into()));
        }
        for (key, value) in &labels {
            convoy_proto::labels::validate_label(key, value)
                .map_err(|err| EnrollError::BadRequest(err.to_string()))?;
        }
        let pattern_ok = id_pattern.len() <= 63
            && id_pattern.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '*')
            });
        if !pattern_ok {
            return Err(EnrollError::BadRequest(format!(
                "invalid id pattern {id_pattern:?}: agent id characters and * only"
            )));
        }
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut id);
        rand::rng().fill_bytes(&mut secret);
        let id = hex::encode(id);
        let secret = hex::encode(secret);
        let now = now_unix_ms();
        let info = TokenInfo {
            id: id.clone(),
            labels,
            id_pattern,
            uses,
            used: 0,
            expires_at_unix_ms: now
                .saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
            created_at_unix_ms: now,
            created_by: by.into(),
            revoked: false,
            enrolled: Vec::new(),
        };
        self.store.put_token(&TokenRecord {
            info: Some(info.clone()),
            secret_sha256: sha256_hex(secret.as_bytes()),
        })?;
        Ok((format!("{TOKEN_PREFIX}.{id}.{secret}"), info))
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>, EnrollError> {
        let mut tokens: Vec<TokenInfo> = self
            .store
            .tokens()?
            .into_iter()
            .filter_map(|record| record.info)
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at_unix_ms));
        Ok(tokens)
    }

    pub fn revoke_token(&self, id: &str) -> Result<TokenInfo, EnrollError> {
        loop {
            let old = self.store.token(id)?.ok_or(EnrollError::UnknownToken)?;
            let mut new = old.clone();
            let info = new.info.get_or_insert_with(TokenInfo::default);
            info.revoked = true;
            let info = info.clone();
            if self.store.swap_token(&old, &new)? {
                return Ok(info);
            }
        }
    }
}
