//! Redis's own words for replies that every rcluster server gives the same way (the partition
//! server and the proxy): unknown commands and subcommands, HELLO's answer. Kept in one place
//! so that the two cannot drift apart from each other or from Redis 7.0.

use bytes::Bytes;

use crate::ReplyWriter;

/// The Redis version rcluster reports (HELLO, INFO): the version whose behaviour it matches.
pub const REDIS_VERSION: &str = "7.0.15";

/// HELLO on a connection that has not authenticated, without `AUTH` in it.
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";

/// At most `max` bytes of `b`, as text.
fn clip(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// Redis's text for an unknown command, quoting up to the first arguments.
pub fn unknown_command(args: &[Bytes]) -> String {
    let mut text =
        format!("ERR unknown command '{}', with args beginning with: ", clip(&args[0], 128));
    for a in &args[1..] {
        if text.len() >= 128 {
            break;
        }
        text.push_str(&format!("'{}' ", clip(a, 128 - text.len().min(128))));
    }
    text
}

/// Redis's text for an unknown subcommand of `cmd`.
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> String {
    format!("ERR unknown subcommand '{}'. Try {} HELP.", clip(sub, 128), cmd.to_ascii_uppercase())
}

/// HELLO's answer: the server's map for protocol `proto` and client `id`.
pub fn write_hello(out: &mut ReplyWriter, proto: i64, id: i64) {
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.integer(proto);
    out.bulk(b"id");
    out.integer(id);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.empty_array();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_quotes_the_first_arguments_as_redis_does() {
        let args: Vec<Bytes> = ["foo", "a", "b"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(
            unknown_command(&args),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            unknown_subcommand("config", b"x"),
            "ERR unknown subcommand 'x'. Try CONFIG HELP."
        );
    }
}
