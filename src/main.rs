//! The `authyd` command line. Each subcommand is a few lines that call into the library.

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "authyd",
    version,
    about = "Two-factor authentication gateway for Twilio Authy"
)]
struct Cli {
    /// Log format.
    #[arg(long, env = "AUTHYD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run authyd. Without an Authy API key it runs the sandbox (built-in simulator).
    Serve(Box<authyd::config::ServeArgs>),
    /// Run the Authy simulator alone (for client tests and for testing any Authy integration).
    Sim(authyd::sim::SimArgs),
    /// Manage caller keys (credentials of the gRPC API outside the sandbox).
    #[command(subcommand)]
    Keys(authyd::config::KeysCommand),
}

/// mimalloc instead of glibc's malloc: with many small, short-lived allocations spread over
/// the runtime's threads (HTTP/2 frames, headers, protobuf messages), glibc's allocator cost
/// authyd about a fifth of its CPU per call under load (perf, `bench/verify_overhead.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("AUTHYD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a terminal (and never with NO_COLOR): log files and pipes get plain text.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        );
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    match cli.command {
        Command::Serve(args) => {
            let settings = authyd::config::Settings::from_args(*args)?;
            let app = authyd::startup::Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await?;
            Ok(())
        }
        Command::Sim(args) => authyd::sim::run_cli(args).await,
        Command::Keys(command) => keys(command).await,
    }
}

/// `authyd keys create|list|revoke`.
async fn keys(command: authyd::config::KeysCommand) -> anyhow::Result<()> {
    use authyd::app::keys::{CallerKeys, cli_actor, format_list};
    use authyd::config::KeysCommand;
    use authyd::store::Revocation;

    let keys = CallerKeys::new(authyd::startup::open_store(&command.database()?).await?);
    match command {
        KeysCommand::Create { name, scopes, .. } => {
            let created = keys.create(&cli_actor(), name, scopes).await?;
            let record = &created.record;
            eprintln!(
                "created key `{}` with scopes {}. It is shown once, below: store it now.",
                record.name, record.scopes
            );
            println!("{}", created.key.expose());
        }
        KeysCommand::List { .. } => print!("{}", format_list(&keys.list().await?)),
        KeysCommand::Revoke { name, .. } => match keys.revoke(&cli_actor(), &name).await? {
            Revocation::Revoked(_) => {
                eprintln!("revoked key `{name}`; running servers refuse it within seconds")
            }
            Revocation::AlreadyRevoked(_) => eprintln!("key `{name}` was already revoked"),
        },
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
