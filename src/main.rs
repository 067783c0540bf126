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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("AUTHYD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
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
    }
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
