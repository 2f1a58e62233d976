//! A small RESP2 client on a tokio `TcpStream`: commands out, replies in,
//! pipelining by writing several commands before reading their replies.

use std::future::Future;
use std::pin::Pin;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The reply, or an error when it is a RESP error.
    pub fn ok(self) -> anyhow::Result<Value> {
        match self {
            Value::Error(e) => bail!("server error: {e}"),
            v => Ok(v),
        }
    }
}

/// Appends `args` as a RESP multibulk request to `out`.
pub fn encode<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A connection to a Redis-protocol server.
pub struct Conn {
    stream: BufReader<TcpStream>,
    out: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::with_capacity(16 * 1024, stream),
            out: Vec::new(),
        })
    }

    /// Connects and selects database `db`.
    pub async fn connect_db(addr: &str, db: u32) -> anyhow::Result<Conn> {
        let mut conn = Conn::connect(addr).await?;
        conn.cmd(&["SELECT", &db.to_string()]).await?.ok()?;
        Ok(conn)
    }

    /// Queues a command; [`Conn::flush`] sends the queue.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode(args, &mut self.out);
    }

    /// Sends every queued command.
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        self.stream.get_mut().write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// Sends one command and reads its reply.
    pub async fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> anyhow::Result<Value> {
        self.queue(args);
        self.flush().await?;
        self.read().await
    }

    /// Sends several commands at once and reads their replies, in order.
    pub async fn pipeline<A: AsRef<[u8]>>(
        &mut self,
        cmds: &[Vec<A>],
    ) -> anyhow::Result<Vec<Value>> {
        for args in cmds {
            self.queue(args);
        }
        self.flush().await?;
        let mut replies = Vec::with_capacity(cmds.len());
        for _ in cmds {
            replies.push(self.read().await?);
        }
        Ok(replies)
    }

    /// Reads one reply (or one pushed pub/sub message).
    pub fn read(&mut self) -> Pin<Box<dyn Future<Output = anyhow::Result<Value>> + Send + '_>> {
        Box::pin(async move {
            let line = self.line().await?;
            let (kind, rest) = line.split_at(1);
            Ok(match kind {
                "+" => Value::Simple(rest.to_string()),
                "-" => Value::Error(rest.to_string()),
                ":" => Value::Int(rest.parse().context("bad integer reply")?),
                "$" => match rest.parse::<i64>().context("bad bulk length")? {
                    n if n < 0 => Value::Bulk(None),
                    n => {
                        let mut data = vec![0; n as usize + 2];
                        self.stream.read_exact(&mut data).await?;
                        data.truncate(n as usize);
                        Value::Bulk(Some(data))
                    }
                },
                "*" => match rest.parse::<i64>().context("bad array length")? {
                    n if n < 0 => Value::Array(None),
                    n => {
                        let mut items = Vec::with_capacity(n as usize);
                        for _ in 0..n {
                            items.push(self.read().await?);
                        }
                        Value::Array(Some(items))
                    }
                },
                _ => bail!("unexpected reply line {line:?}"),
            })
        })
    }

    async fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.stream.read_line(&mut line).await? == 0 {
            bail!("connection closed by the server");
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            bail!("empty reply line");
        }
        Ok(line)
    }
}

/// The last element of a pub/sub push (`message`/`pmessage`), as the
/// channel it came on and its payload (an invalidation's: its first key).
pub fn pushed_message(value: &Value) -> Option<(&[u8], &[u8])> {
    let Value::Array(Some(items)) = value else {
        return None;
    };
    fn bulk(v: &Value) -> Option<&[u8]> {
        match v {
            Value::Bulk(Some(b)) => Some(b.as_slice()),
            _ => None,
        }
    }
    match items.as_slice() {
        [kind, channel, Value::Array(Some(keys))] if bulk(kind) == Some(b"message") => {
            Some((bulk(channel)?, bulk(keys.first()?)?))
        }
        [kind, channel, payload] if bulk(kind) == Some(b"message") => {
            Some((bulk(channel)?, bulk(payload)?))
        }
        [kind, _pattern, channel, payload] if bulk(kind) == Some(b"pmessage") => {
            Some((bulk(channel)?, bulk(payload)?))
        }
        _ => None,
    }
}

/// One field of an INFO `section` on `addr`, if it answers one.
pub async fn info_field(addr: &str, section: &str, name: &str) -> Option<String> {
    let mut conn = Conn::connect(addr).await.ok()?;
    let Ok(Value::Bulk(Some(info))) = conn.cmd(&["INFO", section]).await else {
        return None;
    };
    String::from_utf8_lossy(&info).lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}
