//! One module per subcommand: its clap arguments and its `run`.

pub mod embed;
pub mod eval;
pub mod index;
pub mod status;
pub mod search;
pub mod similar;
pub mod mcp;
pub mod serve;
