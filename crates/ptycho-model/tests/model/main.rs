//! Integration tests of ptycho-model (one test binary: burn links once).

mod common;
mod generator;
mod physics;
mod training;
