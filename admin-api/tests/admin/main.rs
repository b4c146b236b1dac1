//! Integration tests of `admin-api`: the router driven without a socket (`oneshot`), the
//! OpenAPI document, and the client and CLI against real servers on 127.0.0.1:0 — all over
//! the in-memory [`util::FakeAdmin`].

mod client;
mod openapi;
mod router;
mod util;
