//! Answering a set-aside (SPEC §11): the update a slot committed to, posted on chain in
//! pieces small enough for one contract call, and opened against the commitment as the
//! pieces arrive.
//!
//! The update is cut into *segments*, each hashed by its own wide sponge: the whole vector
//! for a v3 project (`commit_update`), one chunk per segment for a chunked one
//! (`c_k`, then the narrow `commit_update` over the chunk commitments). Each segment comes
//! in pieces of at most [`PIECE_VALUES`] values, numbered across segments from 0; the last
//! chunk's zero padding is not posted. [`take_piece`] absorbs one piece into a storable
//! [`Opening`] and returns the update's commitment with the last one. Pieces start on
//! multiples of [`PIECE_VALUES`] within their segment, a multiple of
//! `VALUES_PER_ELEMENT`, so every piece packs on its own exactly as the whole segment does.

use crate::abi::AccountBytes;
use crate::chunked::{self, TAG_CHUNK};
use crate::commit::{account_elements, Commitment, TAG_UPDATE};
use crate::pack::{pack_chunk, VALUES_PER_ELEMENT};
use crate::poseidon::{self, domain_tag, Sponge};
use crate::rule::MAX_DIM;
use alloc::vec::Vec;
use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::PoseidonConfig;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Most values one piece carries: 12,000 bytes of call data, inside ink!'s 16 KiB buffer
/// for a message's input. A multiple of `VALUES_PER_ELEMENT`.
pub const PIECE_VALUES: usize = 6_000;
const _: () = assert!(PIECE_VALUES.is_multiple_of(VALUES_PER_ELEMENT));

/// How an update of `dim` values is committed: whole (v3), or in chunks of `chunk` (v4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub dim: usize,
    pub chunk: Option<usize>,
}

/// Where one piece lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub segment: usize,
    /// First value's offset within the segment.
    pub offset: usize,
    /// Values posted.
    pub len: usize,
    /// Values hashed: `len`, plus the chunk's zero padding for the last piece of the last chunk.
    pub hashed: usize,
    pub last_of_segment: bool,
}

/// Why a piece was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    /// A dimension of 0 or above `MAX_DIM`, or a chunk size of 0.
    BadLayout,
    /// Not the piece due (`expected`; 0 restarts), past the last, or of the wrong length.
    BadPiece { expected: u32 },
    /// A stored opening that does not decode (never written by `take_piece`).
    CorruptOpening,
}

impl Layout {
    fn check(&self) -> Result<(), AnswerError> {
        if self.dim == 0 || self.dim > MAX_DIM || self.chunk == Some(0) {
            return Err(AnswerError::BadLayout);
        }
        Ok(())
    }

    /// Segments: 1 for a v3 update, the chunk count for a chunked one.
    pub fn segments(&self) -> usize {
        self.chunk.map_or(1, |c| self.dim.div_ceil(c))
    }

    /// Values posted in segment `s` (without padding), and values hashed.
    fn segment_len(&self, s: usize) -> (usize, usize) {
        match self.chunk {
            None => (self.dim, self.dim),
            Some(c) => (self.dim.saturating_sub(s * c).min(c), c),
        }
    }

    /// How many pieces the update takes.
    pub fn piece_count(&self) -> usize {
        (0..self.segments())
            .map(|s| self.segment_len(s).0.div_ceil(PIECE_VALUES))
            .sum()
    }

    /// Every piece, in order.
    pub fn pieces(&self) -> Vec<Piece> {
        (0..self.piece_count())
            .filter_map(|k| self.piece(k))
            .collect()
    }

    /// Piece `k`, if there is one (without listing them all: the contract calls this).
    pub fn piece(&self, k: usize) -> Option<Piece> {
        let mut k = k;
        for segment in 0..self.segments() {
            let (len, hashed) = self.segment_len(segment);
            let count = len.div_ceil(PIECE_VALUES);
            if k < count {
                let offset = k * PIECE_VALUES;
                let last_of_segment = k + 1 == count;
                let take = (len - offset).min(PIECE_VALUES);
                return Some(Piece {
                    segment,
                    offset,
                    len: take,
                    hashed: if last_of_segment {
                        hashed - offset
                    } else {
                        take
                    },
                    last_of_segment,
                });
            }
            k -= count;
        }
        None
    }

    /// `values` (the whole update, `dim` values) cut into the pieces to post, in order.
    pub fn split<'a>(&self, values: &'a [i16]) -> Vec<&'a [i16]> {
        let step = self.chunk.unwrap_or(self.dim.max(1));
        self.pieces()
            .iter()
            .map(|p| {
                let start = (p.segment * step + p.offset).min(values.len());
                &values[start..(start + p.len).min(values.len())]
            })
            .collect()
    }
}

/// An answer in progress, as the contract stores it between pieces.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct Opening {
    /// Pieces taken so far.
    pub pieces: u32,
    /// The current segment's sponge (`Sponge::save`); empty between segments.
    pub state: Vec<[u8; 32]>,
    pub filled: u32,
    /// The finished chunks' commitments (chunked updates).
    pub chunks: Vec<[u8; 32]>,
}

/// Absorbs piece `k` of `account`'s update into `opening` (piece 0 starts afresh; any other
/// must be the one due). Returns the update's commitment once the last piece is in, for
/// the caller to compare with the committed one; `opening` is then spent.
pub fn take_piece(
    wide: &PoseidonConfig<Fr>,
    layout: &Layout,
    account: &AccountBytes,
    opening: &mut Opening,
    k: u32,
    values: &[i16],
) -> Result<Option<Commitment>, AnswerError> {
    layout.check()?;
    if k == 0 {
        *opening = Opening::default();
    }
    let expected = opening.pieces;
    let piece = layout
        .piece(k as usize)
        .filter(|p| k == expected && values.len() == p.len)
        .ok_or(AnswerError::BadPiece { expected })?;
    let mut sponge = if piece.offset == 0 {
        let mut s = Sponge::new(wide);
        let head: Vec<Fr> = match layout.chunk {
            None => {
                let [lo, hi] = account_elements(account);
                alloc::vec![domain_tag(TAG_UPDATE), lo, hi, Fr::from(layout.dim as u64)]
            }
            Some(c) => alloc::vec![
                domain_tag(TAG_CHUNK),
                Fr::from(piece.segment as u64),
                Fr::from(c as u64),
            ],
        };
        head.iter().for_each(|x| s.absorb(wide, x));
        s
    } else {
        Sponge::resume(wide, &opening.state, opening.filled).ok_or(AnswerError::CorruptOpening)?
    };
    let padding = piece.hashed - piece.len;
    let mut absorb = |group: &[i16]| sponge.absorb(wide, &pack_chunk(group));
    if padding == 0 {
        values.chunks(VALUES_PER_ELEMENT).for_each(&mut absorb);
    } else {
        let mut padded = Vec::with_capacity(piece.hashed);
        padded.extend_from_slice(values);
        padded.resize(piece.hashed, 0);
        padded.chunks(VALUES_PER_ELEMENT).for_each(&mut absorb);
    }
    opening.pieces = expected + 1;
    if !piece.last_of_segment {
        (opening.state, opening.filled) = sponge.save();
        return Ok(None);
    }
    let segment = sponge.finish(wide);
    opening.state = Vec::new();
    opening.filled = 0;
    match layout.chunk {
        None => Ok(Some(Commitment::from_field(&segment))),
        Some(_) => {
            opening.chunks.push(poseidon::to_bytes(&segment));
            if opening.chunks.len() < layout.segments() {
                return Ok(None);
            }
            let chunks = opening
                .chunks
                .iter()
                .map(poseidon::from_bytes)
                .collect::<Option<Vec<_>>>()
                .ok_or(AnswerError::CorruptOpening)?;
            Ok(Some(chunked::commit_update(account, layout.dim, &chunks)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunked::{Chunking, Scheme};
    use crate::commit::Committer;

    fn update(dim: usize, seed: i32) -> Vec<i16> {
        (0..dim)
            .map(|i| ((i as i32 * 31 + seed * 7) % 1_001 - 500) as i16)
            .collect()
    }

    fn answer(layout: &Layout, who: &AccountBytes, values: &[i16]) -> Commitment {
        let wide = poseidon::wide::config();
        let mut opening = Opening::default();
        let pieces = layout.split(values);
        let mut out = None;
        for (k, piece) in pieces.iter().enumerate() {
            // The stored form round-trips between pieces, as it does in the contract.
            opening = Opening::decode(&mut &opening.encode()[..]).unwrap();
            let r = take_piece(&wide, layout, who, &mut opening, k as u32, piece).unwrap();
            assert_eq!(r.is_some(), k + 1 == pieces.len(), "piece {k}");
            out = r;
        }
        out.unwrap()
    }

    #[test]
    fn pieces_rebuild_the_whole_updates_commitment() {
        let who = [7u8; 32];
        for dim in [1, 14, 15, 5_999, 6_000, 6_001, 8_192, 13_007] {
            let v = update(dim, 1);
            let layout = Layout { dim, chunk: None };
            assert_eq!(layout.split(&v).concat(), v);
            let want = Committer::new().commit_update(&who, &v);
            assert_eq!(answer(&layout, &who, &v), want, "dim {dim}");
        }
    }

    #[test]
    fn pieces_rebuild_the_chunked_updates_commitment() {
        let who = [9u8; 32];
        for (dim, chunk) in [(40, 16), (8_192, 8_192), (20_000, 8_192), (79_510, 8_192)] {
            let v = update(dim, 2);
            let layout = Layout {
                dim,
                chunk: Some(chunk),
            };
            assert_eq!(layout.split(&v).concat(), v);
            assert_eq!(layout.piece_count(), layout.split(&v).len());
            let statement = crate::abi::ChunkedParams::new(
                0,
                chunk as u32,
                &crate::rule::RuleParams::new(4, dim, 1, 1 << 40),
            );
            let want = Scheme::of(Some(&statement))
                .unwrap()
                .commit_update(&who, &v)
                .unwrap();
            assert_eq!(
                answer(&layout, &who, &v),
                want,
                "{dim} in chunks of {chunk}"
            );
            let _ = Chunking::new(dim, chunk).unwrap();
        }
    }

    #[test]
    fn pieces_out_of_order_or_of_the_wrong_length_are_refused() {
        let wide = poseidon::wide::config();
        let layout = Layout {
            dim: 13_000,
            chunk: None,
        };
        let v = update(13_000, 3);
        let p = layout.split(&v);
        assert_eq!(p.len(), 3);
        let who = [1u8; 32];
        let mut o = Opening::default();
        let take = |o: &mut Opening, k: u32, values: &[i16]| {
            take_piece(&wide, &layout, &who, o, k, values)
        };
        assert_eq!(
            take(&mut o, 1, p[1]),
            Err(AnswerError::BadPiece { expected: 0 })
        );
        assert_eq!(take(&mut o, 0, p[1]), Ok(None));
        assert_eq!(
            take(&mut o, 0, &p[0][1..]),
            Err(AnswerError::BadPiece { expected: 0 })
        );
        assert_eq!(take(&mut o, 0, p[0]), Ok(None));
        assert_eq!(
            take(&mut o, 2, p[2]),
            Err(AnswerError::BadPiece { expected: 1 })
        );
        assert_eq!(take(&mut o, 1, p[1]), Ok(None));
        assert!(take(&mut o, 2, p[2]).unwrap().is_some());
        assert_eq!(
            take(&mut o, 3, p[2]),
            Err(AnswerError::BadPiece { expected: 3 })
        );
        let bad = Layout {
            dim: 0,
            chunk: None,
        };
        let r = take_piece(&wide, &bad, &who, &mut Opening::default(), 0, &[]);
        assert_eq!(r, Err(AnswerError::BadLayout));
    }
}
