use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identity of one backtest job: a random (version 4) UUID, always written in lower-case hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(Uuid);

/// A text that is not a version 4 UUID in hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("run_id must be a UUID v4 such as 3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10, got {0:?}")]
pub struct InvalidRunId(pub String);

impl RunId {
    /// A fresh random run id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// The run id made of `seed`: the same seed gives the same id, so a job whose identity is known before it is
    /// recorded (a sweep's child) can be recorded, started and found again by it. A version 4 UUID of the seed's
    /// SHA-256, as random-looking as any other.
    pub fn derived(seed: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(seed);
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for RunId {
    type Err = InvalidRunId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidRunId(text.chars().take(64).collect());
        // Only the canonical hyphenated form: braces, URNs and simple (hyphen-less) forms are other spellings
        // of the same id and would let one job be reached under several keys.
        if text.len() != 36 {
            return Err(invalid());
        }
        let uuid = Uuid::parse_str(text).map_err(|_| invalid())?;
        if uuid.get_version_num() != 4 {
            return Err(invalid());
        }
        Ok(Self(uuid))
    }
}

impl TryFrom<String> for RunId {
    type Error = InvalidRunId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> Self {
        id.to_string()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_version_4_and_the_same_for_the_same_seed() {
        let id = RunId::derived(b"sweep/0");
        assert_eq!(id, RunId::derived(b"sweep/0"));
        assert_ne!(id, RunId::derived(b"sweep/1"));
        assert_eq!(id.to_string().parse::<RunId>(), Ok(id));
    }

    #[test]
    fn new_ids_are_version_4_and_round_trip() {
        let id = RunId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<RunId>(), Ok(id));
    }

    #[test]
    fn upper_case_input_is_accepted_and_written_lower_case() {
        let id: RunId = "3F2B8C1E-6D4A-4F7E-9A51-0C2D7E8B9F10".parse().expect("valid id");
        assert_eq!(id.to_string(), "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10");
    }

    #[test]
    fn rejects_other_spellings_and_versions() {
        for bad in [
            "",
            "not-a-uuid",
            "3f2b8c1e6d4a4f7e9a510c2d7e8b9f10",
            "{3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f10}",
            "3f2b8c1e-6d4a-1f7e-9a51-0c2d7e8b9f10",
            "3f2b8c1e-6d4a-4f7e-9a51-0c2d7e8b9f1g",
        ] {
            assert!(bad.parse::<RunId>().is_err(), "{bad:?} was accepted");
        }
    }
}
