//! Applies changes captured on the legacy side to the revamp side.

fn main() -> std::process::ExitCode {
    dualsync_consumer::cli::main(dualsync_consumer::Direction::LegacyToRevamp)
}
