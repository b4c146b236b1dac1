//! Tests of the hash command family.
