//! Applies changes captured on the revamp side to the legacy side.

fn main() -> std::process::ExitCode {
    dualsync_consumer::cli::main(dualsync_consumer::Direction::RevampToLegacy)
}
