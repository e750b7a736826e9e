//! The `multisource` command: see [`multisource_cli`].

fn main() -> std::process::ExitCode {
    multisource_cli::main()
}
