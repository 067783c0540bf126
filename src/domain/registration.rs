//! QR registrations: a user enrolls by scanning a code with the Authy app (design flow 5).

use std::time::Duration;

use super::ParseError;

/// Where a QR registration stands. `Pending` is the only non-terminal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationState {
    /// The QR code waits to be scanned.
    Pending,
    /// Scanned: the user exists at Authy and is enrolled here.
    Completed,
    /// Nobody scanned before the token expired.
    Expired,
    /// Authy reported a status other than pending or completed.
    Failed,
}

impl RegistrationState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "completed" => Some(Self::Completed),
            "expired" => Some(Self::Expired),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending)
    }
}

/// How long a registration QR code can be scanned: 1 s to 1 h, 5 min by default. The token is a
/// bearer credential for the user's account until it expires, so it is kept short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationTtl(Duration);

impl RegistrationTtl {
    pub const MIN: Duration = Duration::from_secs(1);
    pub const MAX: Duration = Duration::from_secs(60 * 60);
    pub const DEFAULT: Self = Self(Duration::from_secs(5 * 60));

    /// Whole seconds only: the token's `exp` claim is an integer.
    pub fn new(ttl: Duration) -> Result<Self, ParseError> {
        if ttl.subsec_nanos() != 0 {
            return Err(ParseError::new("must be a whole number of seconds"));
        }
        if ttl < Self::MIN || ttl > Self::MAX {
            return Err(ParseError::new("must be between 1 s and 1 h"));
        }
        Ok(Self(ttl))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_pending_is_open() {
        for s in [
            RegistrationState::Pending,
            RegistrationState::Completed,
            RegistrationState::Expired,
            RegistrationState::Failed,
        ] {
            assert_eq!(RegistrationState::parse(s.as_str()), Some(s));
            assert_eq!(s.is_terminal(), s != RegistrationState::Pending);
        }
        assert_eq!(RegistrationState::parse("Pending"), None);
    }

    #[test]
    fn ttl_bounds() {
        assert!(RegistrationTtl::new(Duration::from_secs(1)).is_ok());
        assert!(RegistrationTtl::new(Duration::from_secs(3600)).is_ok());
        assert!(RegistrationTtl::new(Duration::ZERO).is_err());
        assert!(RegistrationTtl::new(Duration::from_secs(3601)).is_err());
        assert!(RegistrationTtl::new(Duration::from_millis(1500)).is_err());
        assert_eq!(RegistrationTtl::DEFAULT.get(), Duration::from_secs(300));
    }
}
