//! Authorization of the methods that change state (AcceptBaseline) through polkit:
//! `CheckAuthorization` with the caller's unique bus name, taken from the message
//! header, as the subject (`system-bus-name`), never the daemon's own process.
//!
//! The actions are an enum, so the code can name no action the policy file
//! (`dbus/io.github.SurfaceCheck1.policy`) lacks; a test holds the two equal.

use std::collections::HashMap;
use std::time::Duration;

use zbus::zvariant::Value;

/// polkit's bus name, object and interface.
pub const POLKIT_NAME: &str = "org.freedesktop.PolicyKit1";
pub const POLKIT_PATH: &str = "/org/freedesktop/PolicyKit1/Authority";
pub const POLKIT_INTERFACE: &str = "org.freedesktop.PolicyKit1.Authority";

/// `CheckAuthorization`'s flag: polkit may ask the person (an authentication agent
/// prompts for a password). Set only when the caller allowed interaction.
const ALLOW_USER_INTERACTION: u32 = 1;

/// How long a check may take: an authentication agent prompting a person is given
/// time to answer; then the call is refused, before the caller's own call times
/// out (surface-check's is 30 s; busctl's and gdbus's default is 25 s).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Every polkit action of this project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Make the current boot the history's baseline.
    AcceptBaseline,
}

impl Action {
    pub const ALL: &[Action] = &[Action::AcceptBaseline];

    /// The action id, as the policy file declares it.
    pub fn id(self) -> &'static str {
        match self {
            Action::AcceptBaseline => "io.github.SurfaceCheck1.accept-baseline",
        }
    }
}

/// Why a caller is not authorized.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    #[error("not authorized for {action} (polkit said no)")]
    No { action: &'static str },
    #[error("the request for {action} has no sender to authorize")]
    NoSender { action: &'static str },
    #[error("polkit could not be asked about {action}: {why}")]
    Unavailable { action: &'static str, why: String },
}

/// Asks polkit whether the sender of a call (`sender`, its unique bus name) may do
/// `action`. Anything but polkit's yes (polkit not running, an error, a timeout) is
/// a refusal.
pub async fn authorize(
    conn: &zbus::Connection,
    sender: Option<&str>,
    action: Action,
    interactive: bool,
) -> Result<(), Denied> {
    let id = action.id();
    let Some(sender) = sender else {
        return Err(Denied::NoSender { action: id });
    };
    let mut subject_details: HashMap<&str, Value<'_>> = HashMap::new();
    subject_details.insert("name", Value::from(sender));
    let subject = ("system-bus-name", subject_details);
    let details: HashMap<&str, &str> = HashMap::new();
    let flags = if interactive {
        ALLOW_USER_INTERACTION
    } else {
        0
    };
    let body = (subject, id, details, flags, "");
    let call = conn.call_method(
        Some(POLKIT_NAME),
        POLKIT_PATH,
        Some(POLKIT_INTERFACE),
        "CheckAuthorization",
        &body,
    );
    let reply = match tokio::time::timeout(CHECK_TIMEOUT, call).await {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            return Err(Denied::Unavailable {
                action: id,
                why: e.to_string(),
            });
        }
        Err(_) => {
            return Err(Denied::Unavailable {
                action: id,
                why: format!("no answer within {CHECK_TIMEOUT:?}"),
            });
        }
    };
    let ((authorized, _challenge, _details),): ((bool, bool, HashMap<String, String>),) = reply
        .body()
        .deserialize()
        .map_err(|e| Denied::Unavailable {
            action: id,
            why: format!("an answer that does not read: {e}"),
        })?;
    tracing::info!(action = id, caller = sender, authorized, "polkit check");
    if authorized {
        Ok(())
    } else {
        Err(Denied::No { action: id })
    }
}
