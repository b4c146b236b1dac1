//! `rcluster ping --addr host:port`: sends PING over RESP and succeeds on PONG — the health
//! probe of partition servers and proxies in containers, which have no shell or redis-cli.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};

/// `rcluster ping …`
#[derive(Debug, Clone, clap::Args)]
pub struct PingArgs {
    /// The server to ask.
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub addr: String,
    /// How long to wait for the answer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
}

/// Exits with an error unless the server answers `+PONG`.
pub fn run(args: PingArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let addr = args
        .addr
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", args.addr))?
        .next()
        .with_context(|| format!("{} resolves to no address", args.addr))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    let mut reply = [0u8; 64];
    let mut got = 0;
    while !reply[..got].ends_with(b"\r\n") && got < reply.len() {
        let n = stream.read(&mut reply[got..]).context("reading the answer")?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let text = String::from_utf8_lossy(&reply[..got]);
    if text != "+PONG\r\n" {
        bail!("{addr} answered {:?}", text.trim_end());
    }
    println!("PONG");
    Ok(())
}
