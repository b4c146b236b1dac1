//! command tests.
use crate::util::*;
