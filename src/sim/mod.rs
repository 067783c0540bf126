//! The Authy simulator. (Being written: placeholder so the crate compiles.)

/// Command-line arguments of `authyd sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {}

/// Runs the simulator until Ctrl-C / SIGTERM.
pub async fn run_cli(_args: SimArgs) -> anyhow::Result<()> {
    anyhow::bail!("the simulator is not built yet")
}
