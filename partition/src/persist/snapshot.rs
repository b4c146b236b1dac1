//! The snapshot format (being written: see the `snapshot` branch).
