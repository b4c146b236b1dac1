//! protocol tests.
use crate::util::*;
