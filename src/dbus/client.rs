//! The client side of `io.github.SurfaceCheck1`: what `surface-check status`, `watch`
//! and `waybar` use to talk to `surface-checkd`. Members are called by the names in
//! [`super::members`], which a test holds against the interface's introspection.

use std::time::Duration;

use futures_util::StreamExt;
use zbus::fdo::DBusProxy;
use zbus::proxy::CacheProperties;
use zbus::zvariant::{OwnedValue, Value};
use zbus::{Connection, Proxy};

use super::{BUS_NAME, INTERFACE, OBJECT_PATH, members};

/// Which bus the daemon is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    /// The system bus: `DBUS_SYSTEM_BUS_ADDRESS`, else /run/dbus/system_bus_socket.
    System,
    /// The session bus: `DBUS_SESSION_BUS_ADDRESS`.
    Session,
}

impl Bus {
    pub fn name(self) -> &'static str {
        match self {
            Bus::System => "system bus",
            Bus::Session => "session bus",
        }
    }

    pub fn from_session_flag(session: bool) -> Bus {
        if session { Bus::Session } else { Bus::System }
    }
}

/// How long connecting to a bus may take: a bus socket whose daemon hangs must not
/// hang the command.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a method call may take. The daemon answers from the report in place;
/// only right after its start does GetReport wait for the first probe, which ends
/// by the probe's deadline (10 s by default).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to the {0}: {1}")]
    Connect(&'static str, String),
    #[error("connecting to the {0} timed out after {1:?}")]
    ConnectTimeout(&'static str, Duration),
    #[error("surface-checkd is not running on the {0} and cannot be started by D-Bus")]
    NotRunning(&'static str),
    #[error(transparent)]
    Bus(#[from] zbus::Error),
    #[error(transparent)]
    Fdo(#[from] zbus::fdo::Error),
    #[error("the daemon's report is not valid: {0}")]
    Report(#[from] serde_json::Error),
    #[error("the daemon did not answer within {0:?}")]
    Timeout(Duration),
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// Connects to `bus` within [`CONNECT_TIMEOUT`].
pub async fn connect(bus: Bus) -> Result<Connection> {
    let builder = match bus {
        Bus::System => zbus::connection::Builder::system(),
        Bus::Session => zbus::connection::Builder::session(),
    }
    .map_err(|e| ClientError::Connect(bus.name(), e.to_string()))?
    .method_timeout(CALL_TIMEOUT);
    match tokio::time::timeout(CONNECT_TIMEOUT, builder.build()).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(ClientError::Connect(bus.name(), e.to_string())),
        Err(_) => Err(ClientError::ConnectTimeout(bus.name(), CONNECT_TIMEOUT)),
    }
}

/// A connection to the daemon's object.
#[derive(Debug, Clone)]
pub struct Client {
    pub bus: Bus,
    conn: Connection,
    proxy: Proxy<'static>,
}

impl Client {
    /// The daemon on `bus`, when it runs or D-Bus can start it; `NotRunning`
    /// otherwise.
    pub async fn connect(bus: Bus) -> Result<Client> {
        let conn = connect(bus).await?;
        // The bus itself answers these: a bus that does not is given up on as
        // quickly as one that cannot be reached.
        let ask = async {
            let dbus = DBusProxy::new(&conn).await?;
            let name = zbus::names::BusName::try_from(BUS_NAME).map_err(zbus::Error::from)?;
            if dbus.name_has_owner(name).await? {
                return Ok(true);
            }
            let activatable = dbus.list_activatable_names().await?;
            Ok::<_, ClientError>(activatable.iter().any(|n| n.as_str() == BUS_NAME))
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, ask).await {
            Ok(Ok(true)) => Client::on(bus, conn).await,
            Ok(Ok(false)) => Err(ClientError::NotRunning(bus.name())),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ClientError::ConnectTimeout(bus.name(), CONNECT_TIMEOUT)),
        }
    }

    /// The daemon's object on a connection already made, whether or not it runs.
    pub async fn on(bus: Bus, conn: Connection) -> Result<Client> {
        let proxy = zbus::proxy::Builder::new(&conn)
            .destination(BUS_NAME)?
            .path(OBJECT_PATH)?
            .interface(INTERFACE)?
            .cache_properties(CacheProperties::No)
            .build()
            .await?;
        Ok(Client { bus, conn, proxy })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    async fn timed<T>(&self, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(CALL_TIMEOUT, f)
            .await
            .unwrap_or(Err(ClientError::Timeout(CALL_TIMEOUT)))
    }

    /// The report JSON as the daemon sends it.
    pub async fn report_json(&self) -> Result<String> {
        self.timed(async { Ok(self.proxy.call(members::GET_REPORT, &()).await?) })
            .await
    }

    /// The report, parsed.
    pub async fn report(&self) -> Result<crate::report::Report> {
        Ok(serde_json::from_str(&self.report_json().await?)?)
    }

    pub async fn subsystem_json(&self, id: &str) -> Result<String> {
        self.timed(async { Ok(self.proxy.call(members::GET_SUBSYSTEM, &(id,)).await?) })
            .await
    }

    pub async fn explain(&self, id: &str) -> Result<String> {
        self.timed(async { Ok(self.proxy.call(members::EXPLAIN, &(id,)).await?) })
            .await
    }

    /// Asks for a new probe and waits for its report.
    pub async fn refresh(&self) -> Result<()> {
        self.timed(async { Ok(self.proxy.call(members::REFRESH, &()).await?) })
            .await
    }

    /// The history as JSON (GetHistory): at most `limit` boots, this boot's
    /// regressions.
    pub async fn history_json(&self, limit: u32) -> Result<String> {
        self.timed(async { Ok(self.proxy.call(members::GET_HISTORY, &(limit,)).await?) })
            .await
    }

    /// Makes this boot the history's baseline (AcceptBaseline), letting polkit ask
    /// the person to authenticate.
    pub async fn accept_baseline(&self) -> Result<()> {
        self.timed(async {
            self.proxy
                .call_with_flags::<_, _, ()>(
                    members::ACCEPT_BASELINE,
                    zbus::proxy::MethodFlags::AllowInteractiveAuth.into(),
                    &(),
                )
                .await?;
            Ok(())
        })
        .await
    }

    pub async fn version(&self) -> Result<String> {
        self.string(members::VERSION).await
    }

    pub async fn overall(&self) -> Result<String> {
        self.string(members::OVERALL).await
    }

    pub async fn string(&self, property: &str) -> Result<String> {
        self.timed(async { Ok(self.proxy.get_property::<String>(property).await?) })
            .await
    }

    pub async fn subsystems(&self) -> Result<Vec<(String, String, String)>> {
        self.timed(async {
            Ok(self
                .proxy
                .get_property::<Vec<(String, String, String)>>(members::SUBSYSTEMS)
                .await?)
        })
        .await
    }

    pub async fn last_updated(&self) -> Result<u64> {
        self.timed(async {
            Ok(self
                .proxy
                .get_property::<u64>(members::LAST_UPDATED)
                .await?)
        })
        .await
    }

    /// A stream of everything the daemon announces, in the order it sent it, and
    /// of its coming and going. Signals are taken from the name's owner only (anyone
    /// may send a signal with that path).
    pub async fn events(&self) -> Result<futures_util::stream::BoxStream<'static, Event>> {
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .path(OBJECT_PATH)?
            .build();
        // One stream for both signals keeps a probe's SubsystemChanged before its
        // PropertiesChanged, as the daemon sends them.
        let signals = zbus::MessageStream::for_match_rule(rule, &self.conn, Some(256))
            .await?
            .filter_map(|m| async move { m.ok() })
            .map(Some);
        let dbus = DBusProxy::new(&self.conn).await?;
        let name = zbus::names::BusName::try_from(BUS_NAME).map_err(zbus::Error::from)?;
        let owner: Option<String> = dbus.get_name_owner(name).await.ok().map(|o| o.to_string());
        let owners = dbus
            .receive_name_owner_changed_with_args(&[(0, BUS_NAME)])
            .await?
            .filter_map(|s| async move {
                let args = s.args().ok()?;
                Some(args.new_owner.as_ref().map(|o| o.to_string()))
            })
            .map(|o| (None, Some(o)));
        let signals = signals.map(|m| (m, None));
        let merged = futures_util::stream::select(signals.boxed(), owners.boxed());
        Ok(merged
            .scan(owner, |owner, (msg, new_owner)| {
                let out = match (msg, new_owner) {
                    (_, Some(o)) => {
                        let running = o.is_some();
                        *owner = o;
                        Some(Event::Daemon { running })
                    }
                    (Some(m), None) => {
                        let from = m.header().sender().map(|s| s.to_string());
                        if from.is_some() && from == *owner {
                            decode(&m)
                        } else {
                            None
                        }
                    }
                    (None, None) => None,
                };
                futures_util::future::ready(Some(out))
            })
            .filter_map(futures_util::future::ready)
            .boxed())
    }
}

/// The event a signal of the daemon's object carries, if it is one of ours.
fn decode(m: &zbus::Message) -> Option<Event> {
    let h = m.header();
    let (iface, member) = (h.interface()?.as_str(), h.member()?.as_str());
    if iface == INTERFACE && member == members::SUBSYSTEM_CHANGED {
        let (id, old_status, new_status, summary) = m
            .body()
            .deserialize::<(String, String, String, String)>()
            .ok()?;
        return Some(Event::SubsystemChanged {
            id,
            old_status,
            new_status,
            summary,
        });
    }
    if iface == INTERFACE && member == members::REGRESSION_DETECTED {
        let (id, previous_kernel, current_kernel, summary) = m
            .body()
            .deserialize::<(String, String, String, String)>()
            .ok()?;
        return Some(Event::RegressionDetected {
            id,
            previous_kernel,
            current_kernel,
            summary,
        });
    }
    if iface == "org.freedesktop.DBus.Properties" && member == "PropertiesChanged" {
        let body = m.body();
        let (name, changed, _): (
            String,
            std::collections::HashMap<String, Value<'_>>,
            Vec<String>,
        ) = body.deserialize().ok()?;
        if name != INTERFACE {
            return None;
        }
        return Some(Event::PropertiesChanged(
            changed
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
        ));
    }
    None
}

/// What the daemon announced.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    SubsystemChanged {
        id: String,
        old_status: String,
        new_status: String,
        summary: String,
    },
    /// A subsystem that worked on an earlier boot does not on this one.
    RegressionDetected {
        id: String,
        previous_kernel: String,
        current_kernel: String,
        summary: String,
    },
    /// Property name to new value.
    PropertiesChanged(serde_json::Map<String, serde_json::Value>),
    /// The daemon took or lost its name.
    Daemon { running: bool },
}

/// A property value as JSON: strings, numbers, and `a(sss)` as a list of
/// `{id, status, summary}` objects.
pub fn value_json(v: &Value<'_>) -> serde_json::Value {
    use serde_json::json;
    if let Ok(s) = <&str>::try_from(v) {
        return json!(s);
    }
    if let Ok(n) = u64::try_from(v) {
        return json!(n);
    }
    if let Ok(owned) = OwnedValue::try_from(v)
        && let Ok(list) = <Vec<(String, String, String)>>::try_from(owned)
    {
        return serde_json::Value::Array(
            list.into_iter()
                .map(
                    |(id, status, summary)| json!({"id": id, "status": status, "summary": summary}),
                )
                .collect(),
        );
    }
    json!(v.to_string())
}
