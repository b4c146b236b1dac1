//! Tests of the zset command family.
