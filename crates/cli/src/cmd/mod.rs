//! One module per subcommand: its clap arguments and its `run`.

pub mod ask;
mod ask_eval;
pub mod embed;
pub mod eval;
pub mod index;
pub mod mcp;
pub mod search;
pub mod serve;
pub mod similar;
pub mod status;
