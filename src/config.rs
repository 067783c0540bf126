//! Typed settings of `authyd serve`: flags > environment (`AUTHYD_*`) > defaults, parsed once into
//! [`Settings`]. Secrets are wrapped ([`ApiKey`]); `Debug` of everything here is safe to log.
//! The database flags ([`DatabaseArgs`]) are shared with `authyd keys` ([`KeysCommand`]), so
//! both name the same database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::domain::{KeyName, Scopes};
use crate::secret::ApiKey;

/// The OneTouch callback URL as configured in the Authy console: Authy signs each callback over
/// this exact string, so it is kept as typed (without a query or fragment, which are not
/// signed) rather than in `Url`'s normalised form (lower-cased host, `:443` dropped, a `/`
/// added to an empty path), any of which would make every signature check fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl {
    signed: String,
    url: Url,
}

impl CallbackUrl {
    /// An absolute http(s) URL.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let signed = raw.split(['?', '#']).next().unwrap_or(raw);
        let url = Url::parse(signed).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("must be an http(s) URL with a host".to_owned());
        }
        Ok(Self {
            signed: signed.to_owned(),
            url,
        })
    }

    /// What Authy signs.
    pub fn as_str(&self) -> &str {
        &self.signed
    }

    /// Parsed, to send requests to.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// Where the database is: flags of `authyd serve` and `authyd keys`.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "AUTHYD_DATA_DIR", default_value = "./authyd-data")]
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://…`); overrides the SQLite file under --data-dir.
    #[arg(long, env = "AUTHYD_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// The database of a server that talks to Authy (the one caller keys live in): the URL if
    /// given, else `authyd.sqlite3` under the data directory.
    pub fn database(&self) -> Result<Database, ConfigError> {
        match &self.database_url {
            Some(url) => SqliteUrl::parse(url).map(Database::Url),
            None => Ok(Database::SqliteFile(self.data_dir.join("authyd.sqlite3"))),
        }
    }
}

/// An `sqlite:` database URL (`sqlite://path/to/file.db`, `sqlite::memory:`), the only kind
/// this build stores in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteUrl(String);

impl SqliteUrl {
    /// Refuses any other scheme, naming the scheme but never echoing the URL (a PostgreSQL URL
    /// holds a password).
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        if url.starts_with("sqlite:") {
            return Ok(Self(url.to_owned()));
        }
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        Err(ConfigError(match scheme {
            Some(scheme) => format!(
                "--database-url (AUTHYD_DATABASE_URL): `{scheme}:` databases are not supported by \
                 this build; give an `sqlite:` URL, or --data-dir for the SQLite file"
            ),
            None => "--database-url (AUTHYD_DATABASE_URL): not a database URL; give an `sqlite:` \
                     URL, or --data-dir for the SQLite file"
                .to_owned(),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `authyd keys …`: caller credentials of the gRPC API.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it, alone, on the last line of stdout. It is shown only this once.
    Create {
        /// The key's name (1-64 of A-Z a-z 0-9 . _ -); the audit trail names callers by it.
        #[arg(long, value_parser = KeyName::parse)]
        name: KeyName,
        /// Comma-separated scopes: enroll, verify, approve, register, admin (admin = all).
        #[arg(long, value_parser = Scopes::parse)]
        scopes: Scopes,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List keys (names, scopes, status, times; never the keys).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke a key: running servers refuse it within seconds. Names are never reused.
    Revoke {
        /// The key's name.
        #[arg(long, value_parser = KeyName::parse)]
        name: KeyName,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

impl KeysCommand {
    /// The database the command works on.
    pub fn database(&self) -> Result<Database, ConfigError> {
        match self {
            Self::Create { db, .. } | Self::List { db } | Self::Revoke { db, .. } => db.database(),
        }
    }
}

/// Command-line flags of `authyd serve` (design.md, "Command-line and test-facing contract").
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// gRPC listen address (port 0 picks a free port).
    #[arg(long, env = "AUTHYD_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// HTTP listen address: OneTouch callbacks, /metrics, /healthz (port 0 picks a free port).
    #[arg(long, env = "AUTHYD_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Authy API base URL.
    #[arg(
        long,
        env = "AUTHYD_AUTHY_URL",
        default_value = "https://api.authy.com"
    )]
    pub authy_url: Url,
    /// Authy API key. Absent: sandbox mode (built-in simulator on loopback).
    #[arg(long, env = "AUTHYD_AUTHY_API_KEY", hide_env_values = true)]
    pub authy_api_key: Option<String>,
    /// Authy application name (the `iss` of QR registration tokens).
    #[arg(long, env = "AUTHYD_AUTHY_APP_NAME")]
    pub authy_app_name: Option<String>,
    /// Authy application id.
    #[arg(long, env = "AUTHYD_AUTHY_APP_ID")]
    pub authy_app_id: Option<String>,
    /// How often a pending approval is polled at Authy, e.g. `1s` or `500ms`.
    #[arg(long, env = "AUTHYD_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Per-request timeout of calls to Authy, e.g. `5s`.
    #[arg(long, env = "AUTHYD_AUTHY_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub authy_timeout: Duration,
    /// The external URL of the OneTouch callback, exactly as configured at Authy (served at path
    /// /authy/callback on the HTTP port).
    #[arg(long, env = "AUTHYD_CALLBACK_URL", value_parser = CallbackUrl::parse)]
    pub callback_url: Option<CallbackUrl>,
    /// Run outside the sandbox without caller credentials (any caller may do anything).
    /// Otherwise callers need a key from `authyd keys create`.
    #[arg(long, env = "AUTHYD_INSECURE_NO_CALLER_AUTH")]
    pub insecure_no_caller_auth: bool,
    /// Origins allowed to call gRPC-Web from a browser (comma-separated; `*` for any).
    #[arg(long, env = "AUTHYD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

fn parse_duration(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(d)
}

/// Where authyd keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file.
    SqliteFile(PathBuf),
    /// A database URL given explicitly.
    Url(SqliteUrl),
}

/// Which Authy authyd talks to.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// The real Authy (or anything at `url` speaking its API).
    Authy {
        url: Url,
        api_key: ApiKey,
        app_name: String,
        app_id: String,
    },
    /// Sandbox: the built-in simulator, started in-process on loopback.
    Sandbox,
}

/// Validated settings of `authyd serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub database: Database,
    /// Delete the SQLite file before opening it (sandbox mode: the simulator starts empty too).
    pub reset_database: bool,
    pub upstream: Upstream,
    pub poll_interval: Duration,
    pub authy_timeout: Duration,
    /// The OneTouch callback URL configured at Authy (GET and POST callbacks are both served).
    pub callback: Option<CallbackUrl>,
    /// Whether callers must present credentials.
    pub caller_auth: bool,
    pub cors_origins: Vec<String>,
}

/// Settings that cannot work together; the message names the flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Settings {
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let upstream = match args.authy_api_key.filter(|k| !k.trim().is_empty()) {
            None => Upstream::Sandbox,
            Some(key) => {
                let api_key =
                    ApiKey::new(key).map_err(|e| ConfigError(format!("--authy-api-key: {e}")))?;
                let app_name = args.authy_app_name.filter(|s| !s.trim().is_empty());
                let app_id = args.authy_app_id.filter(|s| !s.trim().is_empty());
                let (Some(app_name), Some(app_id)) = (app_name, app_id) else {
                    return Err(ConfigError(
                        "with --authy-api-key, --authy-app-name and --authy-app-id \
                         (AUTHYD_AUTHY_APP_NAME, AUTHYD_AUTHY_APP_ID) are required"
                            .to_owned(),
                    ));
                };
                Upstream::Authy {
                    url: args.authy_url,
                    api_key,
                    app_name,
                    app_id,
                }
            }
        };
        let sandbox = matches!(upstream, Upstream::Sandbox);
        // The sandbox simulator keeps its users and approvals in memory, so its database starts
        // afresh with it: stored mappings to a previous run's simulator would point nowhere.
        let (database, reset_database) = match &args.db.database_url {
            None if sandbox => (
                Database::SqliteFile(args.db.data_dir.join("sandbox.sqlite3")),
                true,
            ),
            _ => (args.db.database()?, false),
        };
        Ok(Self {
            grpc_addr: args.grpc_addr,
            http_addr: args.http_addr,
            database,
            reset_database,
            upstream,
            poll_interval: args.poll_interval,
            authy_timeout: args.authy_timeout,
            callback: args.callback_url,
            caller_auth: !(sandbox || args.insecure_no_caller_auth),
            cors_origins: args.cors_origins,
        })
    }

    pub fn is_sandbox(&self) -> bool {
        matches!(self.upstream, Upstream::Sandbox)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<Settings, String> {
        let cli = Cli::try_parse_from(std::iter::once("authyd").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Settings::from_args(cli.serve).map_err(|e| e.to_string())
    }

    #[test]
    fn no_key_is_the_sandbox_without_caller_auth() {
        let s = parse(&["--grpc-addr", "127.0.0.1:0"]).unwrap();
        assert!(s.is_sandbox());
        assert!(!s.caller_auth);
        assert_eq!(s.poll_interval, Duration::from_secs(1));
        assert_eq!(
            s.database,
            Database::SqliteFile(PathBuf::from("./authyd-data/sandbox.sqlite3"))
        );
        assert!(s.reset_database);
    }

    #[test]
    fn a_key_needs_app_name_and_id_and_never_shows_in_debug() {
        let err = parse(&["--authy-api-key", "sekrit-key"]).unwrap_err();
        assert!(err.contains("--authy-app-name"), "{err}");
        assert!(!err.contains("sekrit"));
        let s = parse(&[
            "--authy-api-key",
            "sekrit-key",
            "--authy-app-name",
            "App",
            "--authy-app-id",
            "1",
            "--poll-interval",
            "250ms",
        ])
        .unwrap();
        assert!(!s.is_sandbox());
        assert!(s.caller_auth);
        assert!(!s.reset_database);
        assert_eq!(
            s.database,
            Database::SqliteFile(PathBuf::from("./authyd-data/authyd.sqlite3"))
        );
        assert_eq!(s.poll_interval, Duration::from_millis(250));
        assert!(!format!("{s:?}").contains("sekrit"));
    }

    #[derive(Parser)]
    struct KeysCli {
        #[command(subcommand)]
        keys: KeysCommand,
    }

    #[test]
    fn keys_commands_share_the_database_flags() {
        let parse = |args: &[&str]| {
            KeysCli::try_parse_from(std::iter::once("keys").chain(args.iter().copied()))
                .map(|c| c.keys)
                .map_err(|e| e.to_string())
        };
        let create = parse(&[
            "create",
            "--name",
            "billing",
            "--scopes",
            "verify,enroll",
            "--data-dir",
            "/d",
        ])
        .unwrap();
        assert_eq!(
            create.database(),
            Ok(Database::SqliteFile(PathBuf::from("/d/authyd.sqlite3")))
        );
        let KeysCommand::Create { name, scopes, .. } = create else {
            panic!("not create");
        };
        assert_eq!(
            (name.as_str(), scopes.to_string().as_str()),
            ("billing", "enroll,verify")
        );
        let list = parse(&["list", "--database-url", "sqlite::memory:"]).unwrap();
        assert_eq!(
            list.database().map(|d| format!("{d:?}")),
            Ok(r#"Url(SqliteUrl("sqlite::memory:"))"#.to_owned())
        );
        // Another scheme is named, never echoed: its URL would carry a password.
        let list = parse(&["list", "--database-url", "postgres://u:s3cret@db/authyd"]).unwrap();
        let err = list.database().unwrap_err().to_string();
        assert!(
            err.contains("`postgres:`") && err.contains("sqlite:"),
            "{err}"
        );
        assert!(
            !err.contains("s3cret") && !err.contains("db/authyd"),
            "{err}"
        );
        let list = parse(&["list", "--database-url", "/var/lib/authyd.db"]).unwrap();
        assert!(
            list.database()
                .unwrap_err()
                .to_string()
                .contains("not a database URL")
        );
        assert!(parse(&["revoke", "--name", "billing"]).is_ok());
        assert!(parse(&["create", "--name", "bad name", "--scopes", "verify"]).is_err());
        let err = parse(&["create", "--name", "x", "--scopes", "verify,root"]).unwrap_err();
        assert!(err.contains("valid scopes are"), "{err}");
        assert!(parse(&["create", "--name", "x"]).is_err());
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse(&["--poll-interval", "0s"]).is_err());
        assert!(parse(&["--poll-interval", "soon"]).is_err());
        assert!(parse(&["--callback-url", "ftp://x/cb"]).is_err());
        assert!(parse(&["--callback-url", "/authy/callback"]).is_err());
    }

    #[test]
    fn the_callback_url_is_kept_as_configured() {
        for (raw, signed) in [
            (
                "https://Auth.Example.com:443/authy/callback",
                "https://Auth.Example.com:443/authy/callback",
            ),
            ("https://auth.example.com", "https://auth.example.com"),
            (
                "https://auth.example.com/cb?x=1#f",
                "https://auth.example.com/cb",
            ),
        ] {
            let url = CallbackUrl::parse(raw).unwrap();
            assert_eq!(url.as_str(), signed);
        }
        assert!(parse(&["--grpc-addr", "nowhere"]).is_err());
    }
}
