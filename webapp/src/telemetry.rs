//! Logging: one line per request on stdout, where App Service collects it.
//!
//! Request handlers never write to stdout themselves: a log line is appended to a shared
//! buffer, and one writer thread writes the buffer out every few milliseconds. Under load
//! that turns one `write` syscall (plus a contended stdout lock and a wake-up) per request
//! into one per interval, which lowers tail latency; a line still reaches stdout within
//! [`FLUSH_EVERY`]. Should stdout stall, the buffer stops growing at [`MAX_PENDING_BYTES`]
//! and loggers write synchronously (back-pressure, not unbounded memory, not lost lines).

use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use env_logger::{Env, Target, WriteStyle};

/// How long a log line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Buffered bytes beyond which loggers write the buffer themselves.
const MAX_PENDING_BYTES: usize = 4 << 20;

/// Lines waiting for the writer, and the output they go to.
struct Pending<W> {
    buffer: Mutex<Vec<u8>>,
    out: Mutex<W>,
}

impl<W: Write> Pending<W> {
    fn new(out: W) -> Self {
        Pending {
            buffer: Mutex::new(Vec::with_capacity(64 * 1024)),
            out: Mutex::new(out),
        }
    }

    /// Queues a line; writes everything queued if the buffer is over its bound.
    fn push(&self, line: &[u8]) {
        let full = {
            let mut buffer = lock(&self.buffer);
            buffer.extend_from_slice(line);
            buffer.len() >= MAX_PENDING_BYTES
        };
        if full {
            self.write_out();
        }
    }

    /// Writes everything queued so far, in order.
    fn write_out(&self) {
        // Holding `out` first keeps batches in order when two threads write out at once.
        let mut out = lock(&self.out);
        let batch = std::mem::take(&mut *lock(&self.buffer));
        if !batch.is_empty() {
            // A failing stdout cannot be reported anywhere better; keep serving.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            // Give the (emptied) allocation back so the next interval does not reallocate.
            let mut reuse = batch;
            reuse.clear();
            let mut buffer = lock(&self.buffer);
            if buffer.is_empty() && buffer.capacity() < reuse.capacity() {
                *buffer = reuse;
            }
        }
    }
}

/// A poisoned lock only means a thread panicked while appending bytes: keep logging.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Stdout = Pending<io::Stdout>;

static PENDING: OnceLock<Arc<Stdout>> = OnceLock::new();

/// Sends `log` records to stdout, filtered by `RUST_LOG` (default `info`). Calling it
/// twice is harmless, so tests may call it too.
pub fn init_logging() {
    let pending = PENDING
        .get_or_init(|| {
            let pending = Arc::new(Pending::new(io::stdout()));
            spawn_writer(Arc::clone(&pending));
            pending
        })
        .clone();
    let _ = env_logger::Builder::from_env(Env::default().default_filter_or("info"))
        // App Service's log stream is no terminal: write no colours, so nothing is stripped
        // from every line either.
        .write_style(WriteStyle::Never)
        .target(Target::Pipe(Box::new(LineWriter {
            pending,
            line: Vec::new(),
        })))
        .try_init();
}

/// Queues one whole line (newline included) that bypasses `log`: the access log's
/// ([`crate::access_log`]). Dropped when logging was never set up, as `log` drops records.
pub(crate) fn push_line(line: &[u8]) {
    if let Some(pending) = PENDING.get() {
        pending.push(line);
    }
}

/// Writes every line logged so far; call before exiting.
pub fn flush_logs() {
    if let Some(pending) = PENDING.get() {
        pending.write_out();
    }
}

fn spawn_writer<W: Write + Send + 'static>(pending: Arc<Pending<W>>) {
    let spawned = std::thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(FLUSH_EVERY);
                pending.write_out();
            }
        });
    if let Err(e) = spawned {
        eprintln!("cannot start the log writer thread; logs are written at exit only: {e}");
    }
}

/// What env_logger writes to: it writes a record in parts, then flushes it.
struct LineWriter<W> {
    pending: Arc<Pending<W>>,
    line: Vec<u8>,
}

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pending.push(&self.line);
        self.line.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn writer(out: &Shared) -> (Arc<Pending<Shared>>, LineWriter<Shared>) {
        let pending = Arc::new(Pending::new(out.clone()));
        let writer = LineWriter {
            pending: Arc::clone(&pending),
            line: Vec::new(),
        };
        (pending, writer)
    }

    #[test]
    fn lines_arrive_whole_and_in_order_once_written_out() {
        let out = Shared::default();
        let (pending, mut writer) = writer(&out);
        for i in 0..1000 {
            write!(writer, "line {i}").unwrap();
            writer.write_all(b"\n").unwrap();
            writer.flush().unwrap();
        }
        assert!(
            out.0.lock().unwrap().is_empty(),
            "nothing is written per line"
        );
        pending.write_out();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| *l == format!("line {i}"))
        );
    }

    #[test]
    fn the_writer_thread_writes_lines_out_without_being_asked() {
        let out = Shared::default();
        let (pending, mut writer) = writer(&out);
        spawn_writer(pending);
        writeln!(writer, "hello").unwrap();
        writer.flush().unwrap();
        std::thread::sleep(FLUSH_EVERY * 10);
        assert_eq!(out.0.lock().unwrap().as_slice(), b"hello\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_logger_itself() {
        let out = Shared::default();
        let (_pending, mut writer) = writer(&out);
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_PENDING_BYTES / line.len()) {
            writer.write_all(&line).unwrap();
            writer.flush().unwrap();
        }
        assert_eq!(out.0.lock().unwrap().len(), MAX_PENDING_BYTES);
    }
}
