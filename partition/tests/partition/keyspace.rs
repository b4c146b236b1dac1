//! keyspace tests.
use crate::util::*;
