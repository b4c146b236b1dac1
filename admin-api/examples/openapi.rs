//! Prints the config service's OpenAPI document: `cargo run -p admin-api --example openapi`.

fn main() {
    println!("{}", admin_api::openapi().to_pretty_json().expect("the document serialises"));
}
