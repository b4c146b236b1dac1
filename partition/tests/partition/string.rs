//! string tests.
use crate::util::*;
