//! server tests.
use crate::util::*;
