//! connection tests.
use crate::util::*;
