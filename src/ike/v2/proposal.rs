//! IKEv2 proposals (RFC 7296 §3.3): the SA payloads we offer for the IKE SA and for ESP child
//! SAs, the responder's choice among the peer's proposals, the initiator's check of the answer,
//! and strongSwan-style names (`aes256-sha256-prfsha256-modp2048`) for logs and diagnostics.

use crate::crypto::dh::DhGroup;
use crate::crypto::ikev2::{IkeSaSuite, Ikev2Cipher};
use crate::crypto::mlkem::KemAlg;
use crate::crypto::prf::HashAlg;
use crate::crypto::{EncAlg, IntegAlg};
use crate::ike::policy::{Phase1Policy, Phase2Policy};
use crate::wire::ikev2::sa::{AttrValue, Attribute, AttributeType};
use crate::wire::ikev2::{ProposalRepr, ProtocolId, SaRepr, TransformRepr, TransformType};

/// Additional key exchange transform types (RFC 9370): ADDKE1 … ADDKE7.
pub(crate) const ADDKE_ROUNDS: usize = 7;

/// The algorithms of a negotiated IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IkeChoice {
    pub suite: IkeSaSuite,
    pub group: DhGroup,
    /// The additional key exchange of each ADDKE type (`None` = NONE or absent).
    pub addke: [Option<KemAlg>; ADDKE_ROUNDS],
}

impl IkeChoice {
    /// strongSwan-style name, e.g. `aes256gcm16-prfsha384-ecp384-ke1_mlkem1024`.
    pub fn name(&self) -> String {
        let mut s = cipher_word(self.suite.cipher).to_string();
        if self.suite.integ != IntegAlg::None {
            s.push('-');
            s.push_str(integ_word(self.suite.integ));
        }
        let s = format!("{s}-prf{}-{}", self.suite.prf.name(), self.group.name());
        s + &addke_words(&self.addke)
    }

    /// The key exchanges in the order they run, e.g. `curve25519 + mlkem768`.
    pub fn key_exchanges(&self) -> String {
        let mut s = self.group.name().to_string();
        for k in self.rounds() {
            s.push_str(" + ");
            s.push_str(k.name());
        }
        s
    }

    /// The additional key exchanges to run over IKE_INTERMEDIATE, in order.
    pub fn rounds(&self) -> Vec<KemAlg> {
        self.addke.iter().flatten().copied().collect()
    }

    /// At least one ML-KEM key exchange protects the keys.
    pub fn post_quantum(&self) -> bool {
        self.addke.iter().any(Option::is_some)
    }
}

/// The algorithms of a negotiated ESP child SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EspChoice {
    pub enc: EncAlg,
    pub integ: IntegAlg,
    pub group: Option<DhGroup>,
    /// Additional key exchanges with PFS (RFC 9370, run by IKE_FOLLOWUP_KE).
    pub addke: [Option<KemAlg>; ADDKE_ROUNDS],
}

impl EspChoice {
    /// strongSwan-style name, e.g. `aes128gcm16` or `aes256-sha256-modp2048`.
    pub fn name(&self) -> String {
        let mut s = esp_cipher_word(self.enc).to_string();
        if self.integ != IntegAlg::None {
            s.push('-');
            s.push_str(integ_word(self.integ));
        }
        if let Some(g) = self.group {
            s.push('-');
            s.push_str(g.name());
        }
        s + &addke_words(&self.addke)
    }

    /// The additional key exchanges to run over IKE_FOLLOWUP_KE, in order.
    pub fn rounds(&self) -> Vec<KemAlg> {
        self.addke.iter().flatten().copied().collect()
    }
}

/// `-ke1_mlkem768-ke2_…` for the negotiated additional key exchanges.
fn addke_words(addke: &[Option<KemAlg>; ADDKE_ROUNDS]) -> String {
    let mut s = String::new();
    for (n, k) in addke.iter().enumerate() {
        if let Some(k) = k {
            s.push_str(&format!("-ke{}_{}", n + 1, k.name()));
        }
    }
    s
}

/// The HMAC integrity transform that goes with a phase-1 `hash`.
pub(crate) fn integ_for_hash(h: HashAlg) -> IntegAlg {
    match h {
        HashAlg::Md5 => IntegAlg::HmacMd5_96,
        HashAlg::Sha1 => IntegAlg::HmacSha1_96,
        HashAlg::Sha256 => IntegAlg::HmacSha256_128,
        HashAlg::Sha384 => IntegAlg::HmacSha384_192,
        HashAlg::Sha512 => IntegAlg::HmacSha512_256,
    }
}

fn cipher_word(c: Ikev2Cipher) -> &'static str {
    match c {
        Ikev2Cipher::Aes128Cbc => "aes128",
        Ikev2Cipher::Aes192Cbc => "aes192",
        Ikev2Cipher::Aes256Cbc => "aes256",
        Ikev2Cipher::Aes128Gcm16 => "aes128gcm16",
        Ikev2Cipher::Aes256Gcm16 => "aes256gcm16",
        Ikev2Cipher::ChaCha20Poly1305 => "chacha20poly1305",
    }
}

fn esp_cipher_word(e: EncAlg) -> &'static str {
    match e {
        EncAlg::Null => "null",
        EncAlg::Aes128Cbc => "aes128",
        EncAlg::Aes192Cbc => "aes192",
        EncAlg::Aes256Cbc => "aes256",
        EncAlg::TripleDesCbc => "3des",
        EncAlg::Aes128Gcm16 => "aes128gcm16",
        EncAlg::Aes256Gcm16 => "aes256gcm16",
        EncAlg::ChaCha20Poly1305 => "chacha20poly1305",
    }
}

fn integ_word(i: IntegAlg) -> &'static str {
    match i {
        IntegAlg::None => "none",
        IntegAlg::HmacMd5_96 => "md5",
        IntegAlg::HmacSha1_96 => "sha1",
        IntegAlg::HmacSha256_128 => "sha256",
        IntegAlg::HmacSha384_192 => "sha384",
        IntegAlg::HmacSha512_256 => "sha512",
    }
}

fn transform(kind: TransformType, id: u16, key_bits: Option<u16>) -> TransformRepr {
    TransformRepr {
        kind,
        id,
        attributes: key_bits
            .map(|k| Attribute {
                kind: AttributeType::KEY_LENGTH,
                value: AttrValue::Tv(k),
            })
            .into_iter()
            .collect(),
    }
}

fn dh_transforms(groups: &[DhGroup]) -> impl Iterator<Item = TransformRepr> + '_ {
    groups
        .iter()
        .map(|g| transform(TransformType::KE, g.id(), None))
}

/// The SA payload offering the IKE SA: one proposal for the CBC ciphers (with integrity) and
/// one for the AEADs (without), in the order of the first cipher of each kind; `spi` is empty
/// in IKE_SA_INIT and our new 8-byte SPI in an IKE SA rekey.
pub(crate) fn ike_offer(p: &Phase1Policy, spi: &[u8]) -> SaRepr {
    let mut proposals = Vec::new();
    let mut classic = Vec::new();
    for aead in aead_order(p.ikev2_encryption.iter().map(|c| c.is_aead())) {
        let mut t: Vec<TransformRepr> = p
            .ikev2_encryption
            .iter()
            .filter(|c| c.is_aead() == aead)
            .map(|c| transform(TransformType::ENCR, c.transform_id(), c.key_length_attr()))
            .collect();
        t.extend(
            p.ikev2_prfs()
                .iter()
                .map(|h| transform(TransformType::PRF, h.ikev2_prf_id(), None)),
        );
        if !aead {
            t.extend(p.hash.iter().filter_map(|h| {
                let id = integ_for_hash(*h).ikev2_integ_id()?;
                Some(transform(TransformType::INTEG, id, None))
            }));
        }
        t.extend(dh_transforms(&p.dh_groups));
        if !p.additional_kes.is_empty() {
            let mut with = t.clone();
            with.extend(addke_transforms(&p.additional_kes));
            proposals.push(ProposalRepr {
                number: proposals.len() as u8 + 1,
                protocol: ProtocolId::IKE,
                spi: spi.to_vec(),
                transforms: with,
            });
        }
        classic.push(t);
    }
    // With additional key exchanges the classic proposals come last: a peer without ML-KEM
    // answers with one of them, and `post-quantum` decides (refused with what the peer
    // chose, or accepted with a warning) instead of a bare NO_PROPOSAL_CHOSEN.
    for t in classic {
        proposals.push(ProposalRepr {
            number: proposals.len() as u8 + 1,
            protocol: ProtocolId::IKE,
            spi: spi.to_vec(),
            transforms: t,
        });
    }
    SaRepr { proposals }
}

/// The ADDKE transforms of the configured rounds (NONE as ID 0).
fn addke_transforms(rounds: &[Vec<Option<KemAlg>>]) -> Vec<TransformRepr> {
    let mut t = Vec::new();
    for (r, alts) in rounds.iter().enumerate().take(ADDKE_ROUNDS) {
        let kind = TransformType(6 + r as u8);
        t.extend(
            alts.iter()
                .map(|k| transform(kind, k.map_or(0, KemAlg::id), None)),
        );
    }
    t
}

/// The SA payload offering an ESP child SA with our inbound `spi`; `pfs` adds a DH transform.
pub(crate) fn esp_offer(p: &Phase2Policy, spi: u32, pfs: Option<DhGroup>) -> SaRepr {
    let mut proposals = Vec::new();
    for aead in aead_order(p.encryption.iter().map(|e| e.is_aead())) {
        let mut t: Vec<TransformRepr> = p
            .encryption
            .iter()
            .filter(|e| e.is_aead() == aead)
            .map(|e| {
                let bits = esp_key_bits(*e);
                transform(TransformType::ENCR, u16::from(e.transform_id()), bits)
            })
            .collect();
        if !aead {
            t.extend(
                p.authentication.iter().filter_map(|a| {
                    Some(transform(TransformType::INTEG, a.ikev2_integ_id()?, None))
                }),
            );
        }
        t.extend(dh_transforms(pfs.as_slice()));
        if pfs.is_some() {
            t.extend(addke_transforms(&p.additional_kes));
        }
        t.push(transform(TransformType::ESN, 0, None));
        proposals.push(ProposalRepr {
            number: proposals.len() as u8 + 1,
            protocol: ProtocolId::ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms: t,
        });
    }
    SaRepr { proposals }
}

/// The two proposal kinds (false = CBC with integrity, true = AEAD) present, first-listed first.
fn aead_order(kinds: impl Iterator<Item = bool>) -> Vec<bool> {
    let mut order = Vec::new();
    for k in kinds {
        if !order.contains(&k) {
            order.push(k);
        }
    }
    order
}

fn esp_key_bits(e: EncAlg) -> Option<u16> {
    match e {
        EncAlg::Aes128Cbc | EncAlg::Aes128Gcm16 => Some(128),
        EncAlg::Aes192Cbc => Some(192),
        EncAlg::Aes256Cbc | EncAlg::Aes256Gcm16 => Some(256),
        _ => None,
    }
}

fn esp_enc_from(id: u16, bits: Option<u16>) -> Option<EncAlg> {
    EncAlg::ALL
        .into_iter()
        .find(|e| u16::from(e.transform_id()) == id && esp_key_bits(*e) == bits)
}

/// One transform of each type chosen from a proposal.
#[derive(Default)]
struct Picked {
    encr: Option<TransformRepr>,
    prf: Option<TransformRepr>,
    integ: Option<TransformRepr>,
    dh: Option<TransformRepr>,
    esn: Option<TransformRepr>,
    addke: [Option<TransformRepr>; ADDKE_ROUNDS],
    /// A type present in the proposal had nothing acceptable.
    failed: bool,
}

/// Transform types we know: ENCR, PRF, INTEG, KE, ESN and the additional key exchanges 1–7.
const TYPES: usize = 13;

/// For each transform type in `prop`, the acceptable transform `ok` ranks best (lowest).
fn pick(prop: &ProposalRepr, ok: &dyn Fn(&TransformRepr) -> Option<usize>) -> Picked {
    let mut best: [Option<(usize, &TransformRepr)>; TYPES] = Default::default();
    let mut seen = [false; TYPES];
    let mut unknown_type = false;
    for t in &prop.transforms {
        let k = usize::from(t.kind.0);
        let Some(slot) = seen.get_mut(k) else {
            unknown_type = true;
            continue;
        };
        *slot = true;
        let r = ok(t);
        if let (Some(rank), Some(b)) = (r, best.get_mut(k)) {
            if b.is_none_or(|(br, _)| rank < br) {
                *b = Some((rank, t));
            }
        }
    }
    let get = |k: usize| best[k].map(|(_, t)| t.clone());
    let failed = unknown_type || (1..TYPES).any(|k| seen[k] && best[k].is_none());
    Picked {
        encr: get(1),
        prf: get(2),
        integ: get(3),
        dh: get(4),
        esn: get(5),
        addke: std::array::from_fn(|r| get(6 + r)),
        failed,
    }
}

fn rank<T: PartialEq>(list: &[T], x: &T) -> Option<usize> {
    list.iter().position(|y| y == x)
}

/// The IKE transforms we accept, ranked by our preference.
fn ike_rank(p: &Phase1Policy, t: &TransformRepr) -> Option<usize> {
    match t.kind {
        TransformType::ENCR => rank(
            &p.ikev2_encryption,
            &Ikev2Cipher::from_transform(t.id, t.key_length())?,
        ),
        TransformType::PRF => rank(p.ikev2_prfs(), &HashAlg::from_ikev2_prf_id(t.id)?),
        TransformType::INTEG => {
            let i = IntegAlg::from_ikev2_integ_id(t.id)?;
            p.hash.iter().position(|h| integ_for_hash(*h) == i)
        }
        TransformType::KE => rank(&p.dh_groups, &DhGroup::from_id(t.id)?),
        TransformType(k @ 6..=12) => {
            let kem = match t.id {
                0 => None,
                id => Some(KemAlg::from_id(id)?),
            };
            let alts = (p.additional_kes.get(usize::from(k - 6))).map_or(&[][..], Vec::as_slice);
            // NONE is always acceptable: a proposal without ML-KEM is then judged by
            // `post-quantum` (or the proposal's mandatory rounds, see `ike_choice`).
            rank(alts, &kem).or((kem.is_none()).then_some(alts.len()))
        }
        _ => None,
    }
}

/// Responder: the IKE SA proposal we accept from the peer's `sa`, preferring (among the
/// acceptable groups) `ke_group`, the group of the peer's KE payload. Returns the proposal to
/// answer (one transform of each type) and the choice.
pub(crate) fn choose_ike(
    sa: &SaRepr,
    p: &Phase1Policy,
    ke_group: Option<u16>,
) -> Option<(ProposalRepr, IkeChoice)> {
    // A proposal with every configured ML-KEM round wins over a classic one, whatever the
    // peer's order (`post-quantum` then judges a classic choice).
    let mut classic = None;
    for prop in sa
        .proposals
        .iter()
        .filter(|x| x.protocol == ProtocolId::IKE)
    {
        let ok = |t: &TransformRepr| {
            let r = ike_rank(p, t)?;
            // The group the peer already sent a KE for wins: no INVALID_KE round trip.
            Some(if t.kind == TransformType::KE && Some(t.id) == ke_group {
                0
            } else {
                r + 1
            })
        };
        let picked = pick(prop, &ok);
        if picked.failed {
            continue;
        }
        let Some(choice) = ike_choice(&picked).filter(|c| complete(c, p)) else {
            continue;
        };
        let mut transforms: Vec<TransformRepr> = [picked.encr, picked.prf, picked.integ, picked.dh]
            .into_iter()
            .flatten()
            .collect();
        // The chosen additional key exchanges; NONE is left out (absent = NONE).
        transforms.extend(picked.addke.into_iter().flatten().filter(|t| t.id != 0));
        let answer = ProposalRepr {
            number: prop.number,
            protocol: ProtocolId::IKE,
            spi: prop.spi.clone(),
            transforms,
        };
        if choice.post_quantum() || p.additional_kes.is_empty() {
            return Some((answer, choice));
        }
        classic = classic.or(Some((answer, choice)));
    }
    classic
}

/// A choice with ML-KEM must include every round configured without `none`; a classic one
/// (no ML-KEM at all) is complete here and left to `post-quantum`.
fn complete(c: &IkeChoice, p: &Phase1Policy) -> bool {
    !c.post_quantum()
        || p.additional_kes
            .iter()
            .zip(c.addke)
            .all(|(alts, got)| got.is_some() || alts.contains(&None))
}

fn ike_choice(picked: &Picked) -> Option<IkeChoice> {
    let e = picked.encr.as_ref()?;
    let cipher = Ikev2Cipher::from_transform(e.id, e.key_length())?;
    let prf = HashAlg::from_ikev2_prf_id(picked.prf.as_ref()?.id)?;
    let integ = match &picked.integ {
        Some(t) => IntegAlg::from_ikev2_integ_id(t.id)?,
        None => IntegAlg::None,
    };
    let group = DhGroup::from_id(picked.dh.as_ref()?.id)?;
    let suite = IkeSaSuite { cipher, integ, prf };
    suite.validate().ok()?;
    let mut addke = [None; ADDKE_ROUNDS];
    for (slot, t) in addke.iter_mut().zip(&picked.addke) {
        *slot = match t.as_ref().map(|t| t.id) {
            None | Some(0) => None,
            Some(id) => Some(KemAlg::from_id(id)?),
        };
    }
    Some(IkeChoice {
        suite,
        group,
        addke,
    })
}

/// Initiator: checks that the responder's answer is exactly one of our offers.
pub(crate) fn accept_ike_answer(sa: &SaRepr, p: &Phase1Policy) -> Option<(IkeChoice, Vec<u8>)> {
    let [prop] = sa.proposals.as_slice() else {
        return None;
    };
    let picked = pick(prop, &|t| ike_rank(p, t));
    let mut types: Vec<TransformType> = prop.transforms.iter().map(|t| t.kind).collect();
    types.sort_by_key(|t| t.0);
    types.dedup();
    if picked.failed || types.len() != prop.transforms.len() {
        return None;
    }
    let choice = ike_choice(&picked).filter(|c| complete(c, p))?;
    Some((choice, prop.spi.clone()))
}

/// The ESP transforms we accept, ranked by our preference.
fn esp_rank(p: &Phase2Policy, pfs: Option<DhGroup>, t: &TransformRepr) -> Option<usize> {
    match t.kind {
        TransformType::ENCR => rank(&p.encryption, &esp_enc_from(t.id, t.key_length())?),
        TransformType::INTEG => rank(&p.authentication, &IntegAlg::from_ikev2_integ_id(t.id)?),
        TransformType::KE => {
            let g = DhGroup::from_id(t.id)?;
            (Some(g) == pfs).then_some(0)
        }
        TransformType::ESN => (t.id == 0).then_some(0),
        // Additional key exchanges (IKE_FOLLOWUP_KE) only with PFS; without, only NONE.
        TransformType(k @ 6..=12) => match (pfs, t.id) {
            (_, 0) => Some(usize::from(pfs.is_some()) * ADDKE_ROUNDS),
            (None, _) => None,
            (Some(_), id) => {
                let alts = p.additional_kes.get(usize::from(k - 6))?;
                rank(alts, &Some(KemAlg::from_id(id)?))
            }
        },
        _ => None,
    }
}

/// Responder: the ESP proposal we accept from the peer's `sa` (with `pfs` the group we
/// require, `None` = no PFS). Returns the answer (with `our_spi`), the choice and the peer's SPI.
pub(crate) fn choose_esp(
    sa: &SaRepr,
    p: &Phase2Policy,
    pfs: Option<DhGroup>,
    our_spi: u32,
) -> Option<(ProposalRepr, EspChoice, u32)> {
    for prop in sa
        .proposals
        .iter()
        .filter(|x| x.protocol == ProtocolId::ESP)
    {
        let picked = pick(prop, &|t| esp_rank(p, pfs, t));
        if picked.failed {
            continue;
        }
        let Some(choice) = esp_choice(&picked, p, pfs) else {
            continue;
        };
        let Ok(spi) = <[u8; 4]>::try_from(prop.spi.as_slice()) else {
            continue;
        };
        let answer = ProposalRepr {
            number: prop.number,
            protocol: ProtocolId::ESP,
            spi: our_spi.to_be_bytes().to_vec(),
            transforms: [picked.encr, picked.integ, picked.dh]
                .into_iter()
                .flatten()
                .chain(picked.addke.into_iter().flatten().filter(|t| t.id != 0))
                .chain(picked.esn)
                .collect(),
        };
        return Some((answer, choice, u32::from_be_bytes(spi)));
    }
    None
}

fn esp_choice(picked: &Picked, p: &Phase2Policy, pfs: Option<DhGroup>) -> Option<EspChoice> {
    let e = picked.encr.as_ref()?;
    let enc = esp_enc_from(e.id, e.key_length())?;
    let integ = match &picked.integ {
        Some(t) => IntegAlg::from_ikev2_integ_id(t.id)?,
        None => IntegAlg::None,
    };
    if enc.is_aead() != (integ == IntegAlg::None) {
        return None;
    }
    let group = picked.dh.as_ref().and_then(|t| DhGroup::from_id(t.id));
    // PFS: the group must be there exactly when we require one.
    if group != pfs {
        return None;
    }
    let mut addke = [None; ADDKE_ROUNDS];
    for (slot, t) in addke.iter_mut().zip(&picked.addke) {
        *slot = match t.as_ref().map(|t| t.id) {
            None | Some(0) => None,
            Some(id) => Some(KemAlg::from_id(id)?),
        };
    }
    // With PFS every round configured without `none` must have been chosen.
    if pfs.is_some()
        && !p
            .additional_kes
            .iter()
            .zip(addke)
            .all(|(alts, got)| got.is_some() || alts.contains(&None))
    {
        return None;
    }
    Some(EspChoice {
        enc,
        integ,
        group,
        addke,
    })
}

/// Initiator: checks the responder's ESP answer; returns the choice and the peer's SPI.
pub(crate) fn accept_esp_answer(
    sa: &SaRepr,
    p: &Phase2Policy,
    pfs: Option<DhGroup>,
) -> Option<(EspChoice, u32)> {
    let [prop] = sa.proposals.as_slice() else {
        return None;
    };
    if prop.protocol != ProtocolId::ESP {
        return None;
    }
    let picked = pick(prop, &|t| esp_rank(p, pfs, t));
    if picked.failed {
        return None;
    }
    let spi = <[u8; 4]>::try_from(prop.spi.as_slice()).ok()?;
    Some((esp_choice(&picked, p, pfs)?, u32::from_be_bytes(spi)))
}

/// Every proposal of an SA payload in strongSwan's syntax, for diagnostics: each proposal's
/// transforms joined by `-`, proposals by `, `; unknown transforms by number.
pub(crate) fn describe(sa: &SaRepr) -> String {
    sa.proposals
        .iter()
        .map(describe_proposal)
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_proposal(prop: &ProposalRepr) -> String {
    let esp = prop.protocol == ProtocolId::ESP;
    let words: Vec<String> = prop
        .transforms
        .iter()
        .filter(|t| t.kind != TransformType::ESN)
        .map(|t| {
            match t.kind {
                TransformType::ENCR if esp => {
                    esp_enc_from(t.id, t.key_length()).map(|e| esp_cipher_word(e).to_string())
                }
                TransformType::ENCR => Ikev2Cipher::from_transform(t.id, t.key_length())
                    .map(|c| cipher_word(c).to_string()),
                TransformType::PRF => {
                    HashAlg::from_ikev2_prf_id(t.id).map(|h| format!("prf{}", h.name()))
                }
                TransformType::INTEG => {
                    IntegAlg::from_ikev2_integ_id(t.id).map(|i| integ_word(i).to_string())
                }
                TransformType::KE => DhGroup::from_id(t.id).map(|g| g.name().to_string()),
                TransformType(k @ 6..=12) => {
                    let name = match t.id {
                        0 => Some("none"),
                        id => KemAlg::from_id(id).map(KemAlg::name),
                    };
                    name.map(|n| format!("ke{}_{n}", k - 5))
                }
                _ => None,
            }
            .unwrap_or_else(|| format!("{}#{}", t.kind, t.id))
        })
        .collect();
    words.join("-")
}
