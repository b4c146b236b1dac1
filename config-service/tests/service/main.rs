//! Integration tests of the config service, one binary for the crate.

mod storage;
