//! A throwaway PostgreSQL server for the tests: a new cluster in a temporary folder (`initdb`,
//! trust authentication, loopback only, a free port, `fsync` off), started with `pg_ctl`, and
//! stopped by its process id when dropped, whatever happened meanwhile.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::Result;

/// A running throwaway server.
pub(crate) struct Cluster {
    dir: PathBuf,
    /// `postgres://postgres@127.0.0.1:<port>`, without a database.
    pub(crate) url: String,
    as_postgres: bool,
}

/// The folder of PostgreSQL's server programs: `$PG_BINDIR`, the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian), `pg_config --bindir`, or the folder of `initdb`
/// on the `PATH`.
fn bindir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    let debian = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|entries| {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path())))
            .filter(|(_, path)| path.join("bin/initdb").exists())
            .collect();
        versions.sort();
        versions.pop().map(|(_, path)| path.join("bin"))
    });
    if let Some(dir) = debian {
        return Ok(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
        .ok_or_else(|| {
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: install them \
             (Debian: `apt-get install postgresql`), set PG_BINDIR to their folder, or set \
             MULTISOURCE_TEST_POSTGRES to a server of yours (postgres://user@host:port); \
             `cargo test --workspace` runs every test but PostgreSQL's"
                .to_owned()
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

impl Cluster {
    /// Creates and starts the server; without `durable`, with `fsync` off (for tests).
    pub(crate) fn start(durable: bool) -> Result<Cluster> {
        let bin = bindir()?;
        let dir = std::env::temp_dir().join(format!("multisource-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // The server refuses to run as root: it runs as the `postgres` user then.
        let as_postgres = is_root();
        let mut cluster = Cluster { dir, url: String::new(), as_postgres };
        if as_postgres {
            cluster.run(
                "chown",
                &["postgres:postgres".as_ref(), cluster.dir.as_os_str()],
                false,
            )?;
        }
        let data = cluster.dir.join("data");
        cluster.run(
            &bin.join("initdb").to_string_lossy(),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-locale".as_ref(),
            ],
            true,
        )?;
        let port = free_port()?;
        let fsync = if durable { "on" } else { "off" };
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync={fsync} -c max_connections=300",
            cluster.dir.display()
        );
        let log = cluster.dir.join("server.log");
        let started = cluster.run(
            &bin.join("pg_ctl").to_string_lossy(),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
            true,
        );
        cluster.url = format!("postgres://postgres@127.0.0.1:{port}");
        if let Err(error) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("{error}\nserver log:\n{log}"));
        }
        Ok(cluster)
    }

    /// Runs a program, as the `postgres` user when `as_server` and this process is root.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr], as_server: bool) -> Result {
        let mut command = match as_server && self.as_postgres {
            true => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--", program]);
                c
            }
            false => Command::new(program),
        };
        let out = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        match out.status.success() {
            true => Ok(()),
            false => Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }

    /// The server's process id, from `postmaster.pid`.
    fn pid(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).ok()?;
        text.lines().next().map(|line| line.trim().to_owned()).filter(|pid| !pid.is_empty())
    }
}

fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid).exists()
}

impl Drop for Cluster {
    /// Stops the server by its process id (a fast shutdown), waits for it, and removes its folder.
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while alive(&pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if alive(&pid) {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
