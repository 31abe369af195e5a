//! Keeping the access model current: the directory's `access_version` is polled (cheap:
//! one indexed read), and when it moves — an admin CLI command in another process, a
//! sign-in, a registered case — the model is rebuilt from a fresh snapshot and the sync
//! actor is told, so a revoked device is disconnected within a second.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::access::{AccessModel, SharedModel};
use crate::accounts::{Directory, DirectoryError};
use crate::sync_actor::{ActorHandle, Command};

/// How often the directory is checked for changes.
pub const POLL: Duration = Duration::from_millis(250);

/// The directory and the model built from it, shared by the API, the actor and the watcher.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub dir: Directory,
    pub model: SharedModel,
}

impl Accounts {
    pub fn load(dir: Directory) -> Result<(Self, i64), DirectoryError> {
        let version = dir.access_version()?;
        let model = AccessModel::new(dir.snapshot()?);
        Ok((
            Accounts {
                dir,
                model: Arc::new(RwLock::new(model)),
            },
            version,
        ))
    }

    /// Rebuild the model from the directory.
    fn reload(&self) -> Result<(), DirectoryError> {
        let model = AccessModel::new(self.dir.snapshot()?);
        match self.model.write() {
            Ok(mut m) => *m = model,
            Err(poisoned) => *poisoned.into_inner() = model,
        }
        Ok(())
    }
}

/// Watch the directory until the actor stops.
pub fn spawn(accounts: Accounts, mut seen: i64, actor: ActorHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let a = accounts.clone();
            let checked = tokio::task::spawn_blocking(move || {
                let v = a.dir.access_version()?;
                if v != seen {
                    a.reload()?;
                }
                Ok::<_, DirectoryError>(v)
            })
            .await;
            match checked {
                Ok(Ok(v)) if v != seen => {
                    seen = v;
                    if !actor.send(Command::AccessChanged).await {
                        return;
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read the directory; access unchanged")
                }
                Err(e) => tracing::error!(error = %e, "directory watcher task failed"),
            }
        }
    })
}
