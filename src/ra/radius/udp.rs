//! The thin I/O side of the RADIUS client: one UDP socket connected to the server and a task
//! that drives the sans-IO [`Client`] (datagrams in, retransmissions and timeouts on the
//! clock). The daemon calls [`RadiusClient::authenticate_pap`] for XAUTH-style checks and
//! [`RadiusClient::eap_round`] for each EAP round trip.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::client::{
    AccessRequest, Client, ClientConfig, Credential, Output, RadiusError, Reply, RequestId, State,
};
use super::crypto::SecretBytes;
use crate::ike::random::OsRandom;

/// The answer to a PAP check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PapOutcome {
    Accept { reply_message: Option<String> },
    Reject { reply_message: Option<String> },
}

/// The answer to one EAP round.
#[derive(Debug, Clone)]
pub enum EapRound {
    /// Send `eap` to the peer; echo `state` in the next round.
    Challenge { eap: Vec<u8>, state: Option<State> },
    /// Authenticated: `eap` is normally EAP-Success, `msk` the key for the IKEv2 AUTH payload.
    Accept {
        eap: Option<Vec<u8>>,
        msk: Option<SecretBytes>,
    },
    /// Refused: `eap` is normally EAP-Failure; `reason` the server's Reply-Message or a
    /// description.
    Reject {
        eap: Option<Vec<u8>>,
        reason: String,
    },
}

type Waiter = oneshot::Sender<Result<Reply, RadiusError>>;

/// A RADIUS client for one server; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RadiusClient {
    server: String,
    requests: mpsc::Sender<(AccessRequest, Waiter)>,
}

impl RadiusClient {
    /// Binds an ephemeral UDP port, connects it to `addr` and starts the driver task.
    pub async fn connect(config: ClientConfig, addr: SocketAddr) -> std::io::Result<RadiusClient> {
        let any: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(any).await?;
        socket.connect(addr).await?;
        Ok(RadiusClient::with_socket(config, socket))
    }

    /// Starts the driver task on a socket already connected to the server (tests make it in
    /// another network namespace).
    pub fn with_socket(config: ClientConfig, socket: UdpSocket) -> RadiusClient {
        let server = config.server.clone();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(drive(Client::new(config), socket, rx));
        RadiusClient {
            server,
            requests: tx,
        }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    async fn ask(&self, req: AccessRequest) -> Result<Reply, RadiusError> {
        let gone = || RadiusError::Request {
            server: self.server.clone(),
            reason: "the RADIUS client task has stopped".into(),
        };
        let (tx, rx) = oneshot::channel();
        self.requests.send((req, tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Checks a user name and password (PAP, User-Password hidden with the shared secret).
    pub async fn authenticate_pap(
        &self,
        user: &str,
        password: &SecretBytes,
        calling_station_id: Option<String>,
    ) -> Result<PapOutcome, RadiusError> {
        let req = AccessRequest {
            user: user.into(),
            credential: Credential::Password(password.clone()),
            calling_station_id,
        };
        match self.ask(req).await? {
            Reply::Accept(a) => Ok(PapOutcome::Accept {
                reply_message: a.reply_message,
            }),
            Reply::Reject(r) => Ok(PapOutcome::Reject {
                reply_message: r.reply_message,
            }),
            Reply::Challenge(_) => Err(RadiusError::BadReply {
                server: self.server.clone(),
                code: super::wire::Code::ACCESS_CHALLENGE,
                reason: "the server asks a PAP login for more (a second factor?), which XAUTH \
                         cannot relay; have the server accept or reject this user outright"
                    .into(),
            }),
        }
    }

    /// Relays one EAP packet from the peer (`user` from its EAP-Response/Identity; `state`
    /// from the previous [`EapRound::Challenge`]).
    pub async fn eap_round(
        &self,
        user: &str,
        state: Option<&State>,
        eap: &[u8],
        calling_station_id: Option<String>,
    ) -> Result<EapRound, RadiusError> {
        let req = AccessRequest {
            user: user.into(),
            credential: Credential::Eap {
                message: eap.to_vec(),
                state: state.cloned(),
            },
            calling_station_id,
        };
        let bad = |code, reason: &str| RadiusError::BadReply {
            server: self.server.clone(),
            code,
            reason: reason.into(),
        };
        match self.ask(req).await? {
            Reply::Challenge(c) => match c.eap {
                Some(eap) => Ok(EapRound::Challenge {
                    eap,
                    state: c.state,
                }),
                None => Err(bad(
                    super::wire::Code::ACCESS_CHALLENGE,
                    "an Access-Challenge without EAP-Message to an EAP request",
                )),
            },
            Reply::Accept(a) => Ok(EapRound::Accept {
                eap: a.eap,
                msk: a.msk,
            }),
            Reply::Reject(r) => Ok(EapRound::Reject {
                eap: r.eap,
                reason: r
                    .reply_message
                    .unwrap_or_else(|| "Access-Reject without Reply-Message".into()),
            }),
        }
    }
}

/// The driver: requests from the handles, datagrams from the server, the retransmission clock.
async fn drive(
    mut client: Client,
    socket: UdpSocket,
    mut requests: mpsc::Receiver<(AccessRequest, Waiter)>,
) {
    let mut waiters: HashMap<RequestId, Waiter> = HashMap::new();
    let mut buf = vec![0u8; super::wire::MAX_PACKET_LEN];
    let mut refused = false;
    loop {
        let deadline = client.next_deadline().map(tokio::time::Instant::from_std);
        tokio::select! {
            r = requests.recv() => {
                let Some((req, waiter)) = r else { break };
                match client.start(Instant::now(), &req, &mut OsRandom) {
                    Ok((id, datagram)) => {
                        send(&socket, &datagram, &mut refused).await;
                        waiters.insert(id, waiter);
                    }
                    Err(e) => {
                        let _ = waiter.send(Err(e));
                    }
                }
            }
            r = socket.recv(&mut buf) => match r {
                Ok(n) => match client.handle_datagram(&buf[..n]) {
                    Ok((id, result)) => finish(&mut waiters, id, result, refused),
                    Err(reason) => tracing::warn!(
                        server = client.server(),
                        "dropped a datagram from the RADIUS server: {reason}"
                    ),
                },
                Err(e) => refused |= e.kind() == std::io::ErrorKind::ConnectionRefused,
            },
            _ = sleep_until(deadline), if deadline.is_some() => {
                for out in client.poll(Instant::now()) {
                    match out {
                        Output::Retransmit(d) => send(&socket, &d, &mut refused).await,
                        Output::Done(id, result) => finish(&mut waiters, id, result, refused),
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(d).await;
    }
}

async fn send(socket: &UdpSocket, datagram: &[u8], refused: &mut bool) {
    if let Err(e) = socket.send(datagram).await {
        *refused |= e.kind() == std::io::ErrorKind::ConnectionRefused;
        tracing::debug!("sending to the RADIUS server: {e}");
    }
}

/// Hands a result to its waiter; a timeout after ICMP port-unreachable says so.
fn finish(
    waiters: &mut HashMap<RequestId, Waiter>,
    id: RequestId,
    mut result: Result<Reply, RadiusError>,
    refused: bool,
) {
    if let Err(RadiusError::Timeout { hint, .. }) = &mut result {
        if refused {
            *hint = "; the server's host answered ICMP port unreachable: nothing listens on that \
                     port (is the RADIUS server running, on this port?)"
                .into();
        }
    }
    if let Some(w) = waiters.remove(&id) {
        let _ = w.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ra::radius::fuzzing::answer;
    use crate::ra::radius::wire::{AttributeType, Code};
    use std::time::Duration;

    /// Over loopback: the server ignores the first transmission, the retransmission (the same
    /// datagram) is answered, and the answer reaches the caller.
    #[tokio::test]
    async fn pap_over_loopback_after_a_retransmission() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let secret = SecretBytes::from("loopback-secret");
        let mut config = ClientConfig::new(addr.to_string(), secret.clone());
        config.initial_timeout = Duration::from_millis(50);
        let client = RadiusClient::connect(config, addr).await.unwrap();
        let srv = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let (n, _) = server.recv_from(&mut buf).await.unwrap();
            let first = buf[..n].to_vec();
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &first[..], "the retransmission differs");
            let a = answer(&first, Code::ACCESS_ACCEPT, true, &secret, |b, _| {
                b.push(AttributeType::REPLY_MESSAGE, b"hi").unwrap();
            });
            server.send_to(&a, from).await.unwrap();
        });
        let r = client
            .authenticate_pap("alice", &SecretBytes::from("pw"), None)
            .await
            .unwrap();
        assert_eq!(
            r,
            PapOutcome::Accept {
                reply_message: Some("hi".into())
            }
        );
        srv.await.unwrap();
    }
}
