//! The command line's integration tests, in one binary: the real `vault-rag` binary driven from
//! outside (indexing, search, serve over real sockets, agents, reliability under faults), with
//! the shared helpers of `support` and `reliability_support`.

// The hostile-request cases serve `reliability_serve_hostile`, which needs Unix symlinks.
#[cfg(unix)]
mod hostile_cases;
mod reliability_support;
mod schema_fuzz;
mod support;

mod ask_cli;

mod agents_cli;
mod download_e2e;
mod embed_cli;
mod eval_cli;
mod flood_cli;
mod hardening_cli;
mod index_cli;
mod lexical_first_cli;
mod newcomer_cli;
mod reliability_corruption;
mod reliability_crash;
mod reliability_limits;
mod reliability_serve_fuzz;
mod reliability_serve_hostile;
mod reliability_serve_load;
mod search_cli;
mod serve_e2e;
