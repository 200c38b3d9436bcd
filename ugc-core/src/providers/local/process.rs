//! Running an engine binary once: no shell, an empty environment, resource limits, input on
//! stdin, output read under a cap, and a kill at the deadline.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::clock::{self, Clock};

/// Bytes of stderr kept for the error message; the rest is drained and dropped, so a chatty
/// engine never blocks on a full pipe.
const STDERR_KEPT: u64 = 8 * 1024;

/// How long to wait for a killed child to be reaped before leaving it to `kill_on_drop`.
const REAP_GRACE: Duration = Duration::from_secs(2);

/// What one run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// `RLIMIT_CPU`, seconds.
    pub(super) cpu_seconds: u64,
    /// `RLIMIT_AS`, bytes.
    pub(super) memory_bytes: u64,
    /// Largest stdout accepted.
    pub(super) max_output_bytes: u64,
}

/// A run that ended by itself.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    /// At most [`STDERR_KEPT`] bytes.
    pub(super) stderr: Vec<u8>,
}

/// A run that did not end by itself, or could not start.
#[derive(Debug)]
pub(super) enum RunError {
    /// The binary could not be started.
    Spawn(io::Error),
    /// The deadline passed (or had passed before the start); the child was killed.
    TimedOut,
    /// More than the cap arrived on stdout; the child was killed.
    OutputTooLarge { cap: u64 },
    /// Reading, writing or waiting failed; the child was killed.
    Io(io::Error),
}

/// Runs `program` with `args`, feeding `input` on stdin, until it exits or `deadline`.
pub(super) async fn run<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
    input: &[u8],
    limits: Limits,
    clock: &dyn Clock,
    deadline: Instant,
) -> Result<Finished, RunError> {
    if deadline <= clock.now() {
        return Err(RunError::TimedOut);
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        // Nothing to find or write in the caller's directory; `/` is the same everywhere.
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // If the call is dropped (the router's attempt timeout), the engine dies with it.
        .kill_on_drop(true);
    confine(&mut command, limits);
    let mut child = command.spawn().map_err(RunError::Spawn)?;

    let outcome = {
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(mut stdin), Some(stdout), Some(mut stderr)) = pipes else {
            stop(&mut child, clock).await;
            return Err(RunError::Io(io::Error::other("child pipes are missing")));
        };
        let feed = async move {
            match stdin.write_all(input).await {
                // An engine that exits without reading everything is judged by its exit status.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(RunError::Io(e)),
                Ok(()) => {}
            }
            // Closing stdin is the end of the text.
            drop(stdin);
            Ok(())
        };
        let collect = read_capped(stdout, limits.max_output_bytes);
        let diagnose = async move {
            let mut kept = Vec::new();
            (&mut stderr)
                .take(STDERR_KEPT)
                .read_to_end(&mut kept)
                .await
                .map_err(RunError::Io)?;
            tokio::io::copy(&mut stderr, &mut tokio::io::sink())
                .await
                .map_err(RunError::Io)?;
            Ok(kept)
        };
        let child = &mut child;
        let all = async move {
            // The first failure (output over the cap) ends the others at once.
            let ((), stdout, stderr) = futures::future::try_join3(feed, collect, diagnose).await?;
            let status = child.wait().await.map_err(RunError::Io)?;
            Ok(Finished {
                status,
                stdout,
                stderr,
            })
        };
        clock::timeout(clock, deadline, all).await
    };

    match outcome {
        Ok(Ok(finished)) => Ok(finished),
        Ok(Err(error)) => {
            stop(&mut child, clock).await;
            Err(error)
        }
        Err(clock::Elapsed) => {
            stop(&mut child, clock).await;
            Err(RunError::TimedOut)
        }
    }
}

/// Reads all of `pipe`, failing as soon as more than `cap` bytes arrive: never buffers past
/// `cap + 1` bytes.
async fn read_capped<R: AsyncRead + Unpin>(pipe: R, cap: u64) -> Result<Vec<u8>, RunError> {
    let mut out = Vec::new();
    pipe.take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .await
        .map_err(RunError::Io)?;
    if u64::try_from(out.len()).unwrap_or(u64::MAX) > cap {
        return Err(RunError::OutputTooLarge { cap });
    }
    Ok(out)
}

/// Kills the child and reaps it, so no process outlives the call.
async fn stop(child: &mut Child, clock: &dyn Clock) {
    // Fails only when the child has already exited, which is what we want.
    let _ = child.start_kill();
    // Bounded: a child stuck in the kernel is left to tokio's orphan reaper.
    let _ = clock::timeout(clock, clock.now() + REAP_GRACE, child.wait()).await;
}

/// Sets the resource limits in the child between fork and exec.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn confine(command: &mut Command, limits: Limits) {
    // `rlim_t` is 64 bits on every Linux target that runs engines; the values fit anyway.
    let rlimit = |soft: u64, hard: u64| libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // The hard CPU limit is one second above the soft one: SIGXCPU first, SIGKILL after.
    let cpu = rlimit(limits.cpu_seconds, limits.cpu_seconds.saturating_add(1));
    let memory = rlimit(limits.memory_bytes, limits.memory_bytes);
    // A killed engine must not write a core file of up to `memory_bytes`.
    let core = rlimit(0, 0);
    let apply = move || -> io::Result<()> {
        for (resource, limit) in [
            (libc::RLIMIT_CPU, &cpu),
            (libc::RLIMIT_AS, &memory),
            (libc::RLIMIT_CORE, &core),
        ] {
            // SAFETY: `limit` points to a live, initialised `rlimit` owned by this closure.
            if unsafe { libc::setrlimit(resource, limit) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed: it calls setrlimit (async-signal-safe) and reads errno, and neither
    // allocates nor takes a lock. Lowering limits is always permitted.
    unsafe {
        command.pre_exec(apply);
    }
}

#[cfg(not(target_os = "linux"))]
fn confine(_command: &mut Command, _limits: Limits) {
    // Limits are set on Linux only; elsewhere the timeout and the output cap still hold.
}
