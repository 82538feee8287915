//! Integration tests of ptycho-model (one test binary: burn links once).

mod common;
mod fixture;
mod generator;
mod losses;
mod physics;
mod reconstruction;
mod refine;
mod training;
