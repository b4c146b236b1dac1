//! Tests of the hll command family.
