//! One client connection: read, parse every complete request, execute the
//! batch in one [`Session::execute`] call, write the replies in one go
//! (pipelining).
//!
//! Reading and writing are concurrent: replies wait in the output buffer
//! and go out as the socket accepts them while new requests keep being
//! read, so a client that pipelines a huge batch before reading
//! (`redis-cli --pipe`) never deadlocks against us, as with upstream.
//!
//! The wait for the next event is one hand-written poll over, in this
//! order, the pending write, the push mailbox, the read, the block timer
//! and the idle timer: writing first so replies and pushes always drain,
//! pushes before reads so a client flooding requests still gets its
//! messages. Each of those polls is cancel-safe by construction (a poll
//! that returns `Pending` consumed nothing), and one `&mut` on the stream
//! serves both directions, so no split stream (and its lock) is needed.
//!
//! Hot-path properties, measured with callgrind on the server: one
//! `execute` per batch of parsed requests; the reply written after the
//! batch with a non-blocking attempt (one trip through the poll, and its
//! waker registrations, less per request), once the other connections
//! that were ready ran theirs (a yield: their replies leave together, as
//! upstream's `beforeSleep` writes them); buffers that start small
//! and grow geometrically; no allocation and no timer registration per
//! request in the loop itself (timers exist only when they can fire).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use redis_resp::{Limits, ProtocolError, RequestParser};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::mailbox::{push_channel, ConnSignal, PushReceiver};
use crate::service::{
    Blocked, CloseReason, ConnSettings, Console, DurableWait, Flow, IoDelta, Peer, Service, Session,
};

/// Read buffers start this small (ten thousand idle connections cost
/// little; memory counts against `maxmemory`) and never reserve less.
const MIN_READ_RESERVE: usize = 4096;
/// Reserve more once the free room in the read buffer is below this.
const LOW_READ_ROOM: usize = 1024;
/// Largest single read-buffer reservation, however big the argument.
const MAX_READ_RESERVE: usize = 64 * 1024 * 1024;
/// An emptied output buffer larger than this is released: upstream's
/// reply buffer size (`PROTO_REPLY_CHUNK_BYTES`), beyond which its
/// replies go to chunks freed once written. Bigger kept buffers would pin
/// memory that counts against `maxmemory` (ten tracking clients each
/// sent a burst of invalidations kept 400 KB and made eviction go on).
const KEEP_OUTPUT_CAPACITY: usize = 16 * 1024;
/// How much of the query buffer a query-buffer-limit report carries.
const QBUF_HEAD: usize = 64;
/// Bound on writing an admission refusal (a few hundred bytes that a
/// fresh socket always takes; only a broken peer could stall it).
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one connection until it closes, is killed, or the service stops
/// it. Admission goes through [`Service::open`]; the session's
/// [`Session::closed`] gets the reason at the end.
pub async fn serve<Svc, S>(svc: Arc<Svc>, mut stream: S, peer: Peer)
where
    Svc: Service,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (push_tx, mut push_rx) = push_channel();
    let signal = Arc::new(ConnSignal::new(push_tx));
    let opened = svc.open(&peer, signal.clone());
    drop(svc);
    let mut session = match opened {
        Ok(s) => s,
        Err(msg) => {
            if !msg.is_empty() {
                let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
                    let _ = stream.write_all(&msg).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            }
            return;
        }
    };
    let reason = Conn::new(&mut stream, &mut session, &signal, &mut push_rx)
        .run()
        .await;
    session.closed(reason);
}

/// What woke the connection.
enum Event {
    /// The socket took this many bytes of the output.
    Wrote(usize),
    /// A message arrived in the mailbox.
    Pushed(Bytes),
    /// This many bytes were read into the query buffer.
    Read(usize),
    /// The peer closed its end (or the socket took no bytes).
    Closed,
    Failed(io::Error),
    BlockTimeout,
    Idle,
    /// The output has been over the soft limit for `soft_for`: the loop's
    /// limit check closes the connection even when nothing else happens
    /// (upstream's client cron does the same).
    SoftLimitDue,
}

/// The loop's state; buffers live here so helpers can share them.
struct Conn<'a, S, Se> {
    stream: &'a mut S,
    session: &'a mut Se,
    signal: &'a ConnSignal,
    push_rx: &'a mut PushReceiver,
    /// The query buffer: input not parsed yet.
    rbuf: BytesMut,
    /// Replies and pushes owed to the client.
    out: BytesMut,
    parser: RequestParser,
    /// Parsed requests not executed yet: the tail of a batch behind a
    /// blocking command waits here until the client is served.
    pending: VecDeque<Vec<Bytes>>,
    /// Traffic not reported to the session yet (with the bytes parsed
    /// into `pending` since the last execute).
    io: IoDelta,
    settings: ConnSettings,
    /// The session's `blocked()`, cached: it only changes in session calls.
    blocked: Option<Blocked>,
    /// Close once `out` is written.
    closing: bool,
    /// The last batch ran requests just read and did not wait for
    /// anything: its replies go out after the other ready connections ran.
    yield_first: bool,
    /// Malformed input: reply with it and close once `pending` ran.
    proto_err: Option<ProtocolError>,
    /// Since when the output has been over the soft limit.
    soft_since: Option<Instant>,
}

impl<'a, S, Se> Conn<'a, S, Se>
where
    S: AsyncRead + AsyncWrite + Unpin,
    Se: Session,
{
    fn new(
        stream: &'a mut S,
        session: &'a mut Se,
        signal: &'a ConnSignal,
        push_rx: &'a mut PushReceiver,
    ) -> Self {
        let settings = session.settings();
        let mut parser = RequestParser::with_limits(Limits::new(settings.max_bulk_len));
        parser.set_auth_required(settings.auth_required);
        let blocked = session.blocked();
        let closing = session.close_after_reply();
        Conn {
            stream,
            session,
            signal,
            push_rx,
            rbuf: BytesMut::with_capacity(MIN_READ_RESERVE),
            out: BytesMut::new(),
            parser,
            pending: VecDeque::new(),
            io: IoDelta::default(),
            settings,
            blocked,
            closing,
            yield_first: false,
            proto_err: None,
            soft_since: None,
        }
    }

    /// Runs until the connection must close; returns why.
    async fn run(mut self) -> CloseReason {
        loop {
            if self.signal.is_killed() {
                return CloseReason::Killed;
            }
            // 1. Parse. While blocked, input stays buffered: upstream does
            // not read further commands until the blocking one completes.
            let mut more_input = false;
            if self.blocked.is_none() && self.proto_err.is_none() && !self.rbuf.is_empty() {
                more_input = self.parse();
            }
            let limit = self.settings.query_buffer_limit;
            if limit > 0 && self.rbuf.len() > limit {
                let head = Bytes::copy_from_slice(&self.rbuf[..self.rbuf.len().min(QBUF_HEAD)]);
                return CloseReason::QueryBufferLimit {
                    len: self.rbuf.len(),
                    head,
                };
            }
            // 2. Execute what can run now.
            if self.blocked.is_none() && (!self.pending.is_empty() || !self.io.is_empty()) {
                if let Err(reason) = self.execute().await {
                    return reason;
                }
            }
            // 3. client-output-buffer-limit, checked where the output has
            // just grown (by this batch or by pushes), before writing.
            if let Some(reason) = self.check_output_limit() {
                return reason;
            }
            // 4. Reply when the socket takes it, after the other
            // connections that are ready have run their requests too
            // (upstream writes every reply of an event-loop turn in
            // `beforeSleep`). Yielding first turns the replies of one
            // scheduler turn into one burst: the first wakes a client that
            // sleeps in epoll, the others find it awake. Writing each reply
            // at once made a pipelining client sleep and be woken again
            // between replies, and those wake-ups cost more server CPU than
            // the requests (GET -P 16 with random keys: 0.93 vs 0.71 µs of
            // server CPU per request). A batch that waited for durability
            // or for the tracking broadcast is behind the others already.
            if !self.out.is_empty() && self.pending.is_empty() && !self.closing {
                if std::mem::take(&mut self.yield_first) {
                    tokio::task::yield_now().await;
                }
                if let Err(reason) = self.write_now() {
                    return reason;
                }
            }
            // 5. Closing conditions: flush what is owed, then close.
            let finished = self.pending.is_empty() && self.blocked.is_none();
            if self.closing || (finished && self.proto_err.is_some()) {
                return self.finish().await;
            }
            // 6. More requests are ready (the batch stopped early, or input
            // is parsed one request at a time): run them before waiting,
            // letting the socket take what it can and other tasks run.
            if self.blocked.is_none() && (!self.pending.is_empty() || more_input) {
                if !self.out.is_empty() {
                    if let Err(reason) = self.write_now() {
                        return reason;
                    }
                }
                tokio::task::yield_now().await;
                continue;
            }
            // 7. Wait for the next event.
            self.reserve_read();
            match self.wait().await {
                Event::Wrote(n) => self.wrote(n),
                Event::Pushed(msg) => {
                    // A kill or close request arrives as an empty push.
                    if self.signal.is_killed() {
                        return CloseReason::Killed;
                    }
                    self.out.extend_from_slice(&msg);
                    while let Some(m) = self.push_rx.try_recv() {
                        self.out.extend_from_slice(&m);
                    }
                    if self.signal.close_requested() {
                        self.closing = true;
                    }
                    self.session.on_push();
                    self.yield_first = false;
                    self.after_session_call().await;
                }
                Event::Read(n) => {
                    self.io.read_bytes += n as u64;
                    self.io.reads += 1;
                }
                Event::Closed => return CloseReason::PeerClosed,
                Event::Failed(e) => return CloseReason::Io(e),
                Event::BlockTimeout => {
                    self.session.on_block_timeout(&mut self.out);
                    self.after_session_call().await;
                }
                Event::Idle => return CloseReason::IdleTimeout,
                // Step 3 of the next turn decides.
                Event::SoftLimitDue => {}
            }
        }
    }

    /// Moves complete requests from the query buffer to `pending`. While
    /// the client must authenticate, one request at a time (returns true
    /// when more input may be ready): upstream parses each command after
    /// the previous one ran, so the requests after AUTH get the
    /// authenticated limits.
    fn parse(&mut self) -> bool {
        let before = self.rbuf.len();
        let more = self.parse_requests();
        self.io.batch_bytes += before - self.rbuf.len();
        more
    }

    fn parse_requests(&mut self) -> bool {
        if self.settings.auth_required {
            if !self.pending.is_empty() {
                return false;
            }
            return match self.parser.parse(&mut self.rbuf) {
                Ok(Some(argv)) => {
                    self.pending.push_back(argv);
                    !self.rbuf.is_empty()
                }
                Ok(None) => false,
                Err(e) => {
                    self.proto_err = Some(e);
                    false
                }
            };
        }
        loop {
            match self.parser.parse(&mut self.rbuf) {
                Ok(Some(argv)) => self.pending.push_back(argv),
                Ok(None) => return false,
                Err(e) => {
                    self.proto_err = Some(e);
                    return false;
                }
            }
        }
    }

    /// Runs the session on `pending` (retrying while it is paused), then
    /// refreshes what the loop caches. `Err` when the connection must
    /// close at once.
    async fn execute(&mut self) -> Result<(), CloseReason> {
        let mut io = std::mem::take(&mut self.io);
        loop {
            io.query_buffer = self.rbuf.len() + self.parser.held_bytes();
            match self.session.execute(&mut self.pending, &mut self.out, io) {
                Flow::Continue => break,
                Flow::Stop => return Err(CloseReason::Shutdown),
                Flow::Offloaded => {
                    let console = self.session.offload_console();
                    if let Some(wait) = self.session.offload_wait() {
                        match console {
                            Some(c) => self.relay(c, wait).await,
                            None => wait.await,
                        }
                    }
                    io = std::mem::take(&mut self.io);
                }
                Flow::RetryAfter(d) => {
                    // Bounded: the session's pause has a deadline. A kill
                    // is noticed after each (short) sleep. Replies of what
                    // ran before the paused request still go out meanwhile
                    // (upstream writes a postponed client's pending output).
                    self.write_for(d.max(Duration::from_millis(1))).await?;
                    if self.signal.is_killed() {
                        return Err(CloseReason::Killed);
                    }
                    io = std::mem::take(&mut self.io);
                }
            }
        }
        // Client eviction and INFO read the output owed between this
        // task's waits: keep it current after every batch.
        self.signal.set_output(self.out.len(), self.out.capacity());
        let waited = self.after_session_call().await;
        self.yield_first = !waited && !self.out.is_empty();
        Ok(())
    }

    /// While an offloaded request with a console runs: the client's input
    /// goes to the console as read, the console's output to the client.
    /// Returns once the request is done, with the console's last output
    /// in `out` (before the request's reply). A client that goes away only
    /// closes the console's input.
    async fn relay(&mut self, mut console: Console, mut wait: DurableWait) {
        enum Ev {
            Done,
            Out(Option<Bytes>),
            Wrote(usize),
            Read(usize),
            Gone,
        }
        let mut input = Some(console.input);
        if !self.rbuf.is_empty() {
            if let Some(tx) = &input {
                let _ = tx.send(self.rbuf.split().to_vec());
            }
        }
        let mut output_open = true;
        let mut dead = false;
        let mut buf = vec![0u8; 4096];
        loop {
            let ev = {
                let stream = &mut *self.stream;
                let out = &self.out;
                let output = &mut console.output;
                let wait = &mut wait;
                let buf = &mut buf;
                poll_fn(|cx| {
                    if output_open {
                        if let Poll::Ready(m) = output.poll_recv(cx) {
                            return Poll::Ready(Ev::Out(m));
                        }
                    }
                    if !dead && !out.is_empty() {
                        match Pin::new(&mut *stream).poll_write(cx, out) {
                            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                                return Poll::Ready(Ev::Gone)
                            }
                            Poll::Ready(Ok(n)) => return Poll::Ready(Ev::Wrote(n)),
                            Poll::Pending => {}
                        }
                    }
                    if !dead {
                        let mut rb = tokio::io::ReadBuf::new(buf);
                        match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                            Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                                return Poll::Ready(Ev::Gone)
                            }
                            Poll::Ready(Ok(())) => return Poll::Ready(Ev::Read(rb.filled().len())),
                            Poll::Ready(Err(_)) => return Poll::Ready(Ev::Gone),
                            Poll::Pending => {}
                        }
                    }
                    wait.as_mut().poll(cx).map(|()| Ev::Done)
                })
                .await
            };
            match ev {
                Ev::Done => break,
                Ev::Out(Some(b)) => self.out.extend_from_slice(&b),
                Ev::Out(None) => output_open = false,
                Ev::Wrote(n) => self.wrote(n),
                Ev::Read(n) => {
                    self.io.read_bytes += n as u64;
                    self.io.reads += 1;
                    if let (Some(tx), Some(data)) = (&input, buf.get(..n)) {
                        let _ = tx.send(data.to_vec());
                    }
                }
                Ev::Gone => {
                    dead = true;
                    input = None;
                }
            }
        }
        while let Ok(b) = console.output.try_recv() {
            self.out.extend_from_slice(&b);
        }
        drop(input);
    }

    /// Writes the output for `d` (a paused client's wait): only writes, so
    /// no input is read and no push is taken meanwhile.
    async fn write_for(&mut self, d: Duration) -> Result<(), CloseReason> {
        let mut sleep = pin!(tokio::time::sleep(d));
        loop {
            let stream = &mut *self.stream;
            let out = &self.out;
            let event = poll_fn(|cx| {
                if !out.is_empty() {
                    match Pin::new(&mut *stream).poll_write(cx, out) {
                        Poll::Ready(Ok(0)) => return Poll::Ready(Some(Event::Closed)),
                        Poll::Ready(Ok(n)) => return Poll::Ready(Some(Event::Wrote(n))),
                        Poll::Ready(Err(e)) => return Poll::Ready(Some(Event::Failed(e))),
                        Poll::Pending => {}
                    }
                }
                sleep.as_mut().poll(cx).map(|_| None)
            })
            .await;
            match event {
                None => return Ok(()),
                Some(Event::Wrote(n)) => self.wrote(n),
                Some(Event::Failed(e)) => return Err(CloseReason::Io(e)),
                Some(_) => return Err(CloseReason::PeerClosed),
            }
        }
    }

    /// Refreshes the cached session state after `execute`, `on_push` or
    /// `on_block_timeout`, then waits for durability if the session asks
    /// (`appendfsync always`: the new output goes out only after it).
    /// True when there was such a wait: the task then already let the
    /// other ready connections run, and its reply need not yield again.
    async fn after_session_call(&mut self) -> bool {
        let s = self.session.settings();
        if s.max_bulk_len != self.settings.max_bulk_len {
            self.parser.set_limits(Limits::new(s.max_bulk_len));
        }
        if s.auth_required != self.settings.auth_required {
            self.parser.set_auth_required(s.auth_required);
        }
        self.settings = s;
        self.blocked = self.session.blocked();
        self.closing |= self.session.close_after_reply();
        match self.session.durable_wait() {
            Some(wait) => {
                wait.await;
                true
            }
            None => false,
        }
    }

    /// `client-output-buffer-limit`: replies and pushes a client does not
    /// read accumulate in `out`; past the hard limit, or past the soft
    /// limit for too long, the client is closed (as upstream).
    fn check_output_limit(&mut self) -> Option<CloseReason> {
        let l = self.settings.output_limit;
        let used = self.out.len();
        let over_hard = l.hard > 0 && used as u64 >= l.hard;
        let over_soft = l.soft > 0 && used as u64 >= l.soft;
        // As upstream: the first time over the soft limit only starts the
        // clock, and the limit counts once it has been exceeded for
        // longer than `soft_for`. The clock is read only while over it.
        let soft_expired = match (over_soft, self.soft_since) {
            (false, _) => {
                self.soft_since = None;
                false
            }
            (true, None) => {
                self.soft_since = Some(Instant::now());
                false
            }
            (true, Some(t)) => t.elapsed() > l.soft_for,
        };
        (over_hard || soft_expired).then_some(CloseReason::OutputBufferLimit {
            used,
            hard: over_hard,
        })
    }

    /// One non-blocking attempt to write the output; a socket that would
    /// block is retried by the wait.
    fn write_now(&mut self) -> Result<(), CloseReason> {
        match write_now(&mut *self.stream, &self.out) {
            Some(0) => Err(CloseReason::PeerClosed),
            Some(n) => {
                self.wrote(n);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn wrote(&mut self, n: usize) {
        self.out.advance(n);
        // Keep big one-off reply buffers from pinning memory. `capacity`
        // counts from the first unwritten byte; reclaiming the written room
        // (no allocation) tells whether the whole buffer is that big.
        if self.out.is_empty() && self.out.try_reclaim(KEEP_OUTPUT_CAPACITY + 1) {
            self.out = BytesMut::new();
        }
        self.signal.set_output(self.out.len(), self.out.capacity());
        self.io.written_bytes += n as u64;
        self.io.writes += 1;
    }

    /// Grows the query buffer when it is nearly full: geometrically for
    /// pipelines, and a big pending argument gets its whole size at once.
    fn reserve_read(&mut self) {
        if self.rbuf.capacity() - self.rbuf.len() < LOW_READ_ROOM {
            let hint = self
                .parser
                .reserve_hint()
                .max(self.rbuf.capacity())
                .clamp(MIN_READ_RESERVE, MAX_READ_RESERVE);
            self.rbuf.reserve(hint);
        }
    }

    /// Waits for the next event, polling in priority order: write, push,
    /// read, block deadline, idle timeout. Cancel-safe (each poll that
    /// returns `Pending` consumed nothing), though it is always run to
    /// completion.
    async fn wait(&mut self) -> Event {
        self.signal.set_output(self.out.len(), self.out.capacity());
        // Timers exist only when they can fire: registering a far-away
        // sleep on every request was a measurable cost on the hot path.
        let idle = match self.blocked {
            None => self.settings.idle_timeout,
            Some(_) => None,
        };
        let mut idle = pin!(idle.map(tokio::time::sleep));
        let mut deadline = pin!(match self.blocked {
            Some(Blocked::Until(t)) => Some(tokio::time::sleep_until(t.into())),
            _ => None,
        });
        // Checked a cron tick after the time is up, as upstream's client
        // cron would (traffic in between checks it at once).
        let soft_due = self
            .soft_since
            .map(|t| t + self.settings.output_limit.soft_for + Duration::from_millis(100));
        let mut soft_due = pin!(soft_due.map(|t| tokio::time::sleep_until(t.into())));
        let stream = &mut *self.stream;
        let out = &self.out;
        let push_rx = &mut *self.push_rx;
        let rbuf = &mut self.rbuf;
        poll_fn(|cx| {
            if !out.is_empty() {
                match Pin::new(&mut *stream).poll_write(cx, out) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Event::Closed),
                    Poll::Ready(Ok(n)) => return Poll::Ready(Event::Wrote(n)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Event::Failed(e)),
                    Poll::Pending => {}
                }
            }
            if let Poll::Ready(msg) = push_rx.poll_recv(cx) {
                return Poll::Ready(Event::Pushed(msg));
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut *stream), cx, &mut *rbuf) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Event::Closed),
                Poll::Ready(Ok(n)) => return Poll::Ready(Event::Read(n)),
                Poll::Ready(Err(e)) => return Poll::Ready(Event::Failed(e)),
                Poll::Pending => {}
            }
            if let Some(t) = deadline.as_mut().as_pin_mut() {
                if t.poll(cx).is_ready() {
                    return Poll::Ready(Event::BlockTimeout);
                }
            }
            if let Some(t) = idle.as_mut().as_pin_mut() {
                if t.poll(cx).is_ready() {
                    return Poll::Ready(Event::Idle);
                }
            }
            if let Some(t) = soft_due.as_mut().as_pin_mut() {
                if t.poll(cx).is_ready() {
                    return Poll::Ready(Event::SoftLimitDue);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Writes what is owed (and the protocol error, if that is why we
    /// close), then reports why the connection closes.
    async fn finish(mut self) -> CloseReason {
        let reason = match self.proto_err.take() {
            Some(e) => {
                self.out.extend_from_slice(b"-ERR ");
                self.out.extend_from_slice(&e.reply_bytes());
                self.out.extend_from_slice(b"\r\n");
                CloseReason::Protocol(e)
            }
            None => CloseReason::AfterReply,
        };
        self.flush().await;
        reason
    }

    /// Writes all of `out` and flushes, giving up on a write error, a
    /// kill, or the idle timeout (a client that never reads must not hold
    /// the task forever). Messages pushed meanwhile are dropped, as
    /// upstream drops output for a client closing after its reply.
    async fn flush(&mut self) {
        let mut idle = pin!(self.settings.idle_timeout.map(tokio::time::sleep));
        let stream = &mut *self.stream;
        let out = &mut self.out;
        let push_rx = &mut *self.push_rx;
        let signal = self.signal;
        poll_fn(|cx| {
            loop {
                if out.is_empty() {
                    return Pin::new(&mut *stream).poll_flush(cx).map(|_| ());
                }
                match Pin::new(&mut *stream).poll_write(cx, out) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Ready(Ok(n)) => out.advance(n),
                    Poll::Pending => break,
                }
            }
            while push_rx.poll_recv(cx).is_ready() {
                if signal.is_killed() {
                    return Poll::Ready(());
                }
            }
            if let Some(t) = idle.as_mut().as_pin_mut() {
                if t.poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// One non-blocking attempt to write `buf`: `Some(n)` if the socket took
/// `n` bytes (0: closed), `None` if it would block or failed; the regular
/// write in the wait then retries (and reports the error).
fn write_now<W: AsyncWrite + Unpin>(wr: &mut W, buf: &[u8]) -> Option<usize> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(wr).poll_write(&mut cx, buf) {
        Poll::Ready(Ok(n)) => Some(n),
        _ => None,
    }
}
