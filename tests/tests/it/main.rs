//! gocart-tests' end-to-end tests, one binary: the programs driven as a user
//! would (`cli`), the demo (`demo`), and the crash suite (`crash`;
//! `scripts/crash-suite.sh` runs it at full size with `--test it crash::`).

mod cli;
mod crash;
mod demo;
mod dossier;
