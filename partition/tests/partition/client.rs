//! client tests.
use crate::util::*;
