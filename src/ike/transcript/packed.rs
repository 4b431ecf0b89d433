//! The compact form a transcript keeps its decoded payload trees in: one byte string per
//! message instead of a tree of [`Node`]s (three heap blocks and 72 bytes each), unpacked only
//! when the transcript is read. Thousands of tunnels each keep a few exchanges, so this is most
//! of what an idle tunnel holds.
//!
//! Layout, node by node in pre-order: `name length (LEB128) | name | text length | text |
//! number of children`, then the children. Only [`pack`] writes it; [`unpack`] still checks
//! every length and stops at the first inconsistency rather than panic.

use super::Node;

/// A message's payload tree, packed (empty: no payloads).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Packed(Box<[u8]>);

impl Packed {
    /// Whether it holds no payloads.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes it occupies on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.len()
    }
}

/// Packs `nodes` (consumed: their strings are dropped at once).
pub(crate) fn pack(nodes: Vec<Node>) -> Packed {
    if nodes.is_empty() {
        return Packed::default();
    }
    let mut out = Vec::new();
    put_len(&mut out, nodes.len());
    for n in &nodes {
        put_node(&mut out, n);
    }
    Packed(out.into_boxed_slice())
}

/// The payload tree again.
pub(crate) fn unpack(p: &Packed) -> Vec<Node> {
    let mut r = Reader(&p.0);
    if p.is_empty() {
        return Vec::new();
    }
    r.nodes(0).unwrap_or_default()
}

/// Deepest nesting [`unpack`] follows (payload → proposal → transform → attribute is four).
const MAX_DEPTH: usize = 16;

fn put_node(out: &mut Vec<u8>, n: &Node) {
    put_str(out, &n.name);
    put_str(out, &n.text);
    put_len(out, n.children.len());
    for c in &n.children {
        put_node(out, c);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_len(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    /// A count of nodes, then the nodes.
    fn nodes(&mut self, depth: usize) -> Option<Vec<Node>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let count = self.len()?;
        // Every node takes at least three bytes: a corrupt count cannot reserve much.
        let mut v = Vec::with_capacity(count.min(self.0.len() / 3));
        for _ in 0..count {
            let name = self.str()?;
            let text = self.str()?;
            let children = self.nodes(depth + 1)?;
            v.push(Node {
                name,
                text,
                children,
            });
        }
        Some(v)
    }

    fn len(&mut self) -> Option<usize> {
        let mut v = 0usize;
        for shift in (0..35).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            v |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        let s = self.0.get(..n)?;
        self.0 = self.0.get(n..)?;
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Vec<Node> {
        vec![
            Node::with(
                "SA",
                "DOI 1",
                vec![Node::with(
                    "proposal 1",
                    "ISAKMP",
                    vec![Node::leaf("transform", "AES-CBC-256, SHA2-256 ".repeat(20))],
                )],
            ),
            Node::leaf("KE", "256 bytes"),
            Node::leaf("", ""),
        ]
    }

    #[test]
    fn a_tree_comes_back_as_it_was_packed_and_smaller() {
        let t = tree();
        let p = pack(t.clone());
        assert_eq!(unpack(&p), t);
        assert!(p.heap_bytes() < 600, "{}", p.heap_bytes());
        assert!(pack(Vec::new()).is_empty());
        assert_eq!(unpack(&Packed::default()), Vec::<Node>::new());
    }

    #[test]
    fn corrupt_bytes_unpack_to_nothing_and_never_panic() {
        let p = pack(tree());
        for cut in 0..p.0.len() {
            let short = Packed(p.0[..cut].to_vec().into_boxed_slice());
            assert!(unpack(&short).is_empty(), "cut at {cut}");
        }
        for b in [
            vec![0xff; 8],
            vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
            vec![5, 200],
        ] {
            assert!(unpack(&Packed(b.into_boxed_slice())).is_empty());
        }
        // Nesting deeper than MAX_DEPTH is refused.
        let deep: Vec<u8> = std::iter::repeat_n([1u8, 0, 0], MAX_DEPTH + 2)
            .flatten()
            .chain([0])
            .collect();
        assert!(unpack(&Packed(deep.into_boxed_slice())).is_empty());
    }
}
