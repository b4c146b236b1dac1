//! bitmap tests.
use crate::util::*;
