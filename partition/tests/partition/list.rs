//! Tests of the list command family.
