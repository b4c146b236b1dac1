//! Tests of the set command family.
