//! The Model / Update file: what trainers and the aggregator put into IPFS.
//!
//! ```text
//! magic      8  b"MERITMDL"
//! version    2  u16 LE = 1
//! kind       1  0 = model, 1 = update (delta local − global, clipped, quantised)
//! scale      1  s of the fixed-point scale 2^-s (0..=15)
//! tensors    2  u16 LE, 1..=MAX_TENSORS
//!   name_len 2  u16 LE, 1..=MAX_NAME;  name  UTF-8
//!   ndim     1  1..=MAX_NDIM;          dims  u32 LE each, non-zero
//! len        8  u64 LE = Σ Π dims ≤ MAX_PARAMS
//! values     2·len  i16 LE: the exact vector the commitment covers
//! floats     1  0 = absent, 1 = present;  then 4·len f32 LE (finite) if present
//! ```
//! Nothing may follow. The parser checks every declared size against the bytes actually
//! present before allocating, so a hostile length cannot make it allocate.

use alloc::string::String;
use alloc::vec::Vec;

pub const MAGIC: &[u8; 8] = b"MERITMDL";
pub const VERSION: u16 = 1;
pub const MAX_TENSORS: usize = 256;
pub const MAX_NAME: usize = 128;
pub const MAX_NDIM: usize = 8;
pub use crate::limits::MAX_PARAMS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Model,
    Update,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorShape {
    pub name: String,
    pub dims: Vec<u32>,
}

impl TensorShape {
    pub fn len(&self) -> u64 {
        self.dims.iter().map(|&d| u64::from(d)).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub kind: Kind,
    pub scale_bits: u8,
    pub tensors: Vec<TensorShape>,
    pub values: Vec<i16>,
    pub floats: Option<Vec<f32>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    BadMagic,
    UnsupportedVersion(u16),
    BadKind(u8),
    BadScale(u8),
    /// The file ends before `what` (at byte `at`).
    Truncated {
        what: &'static str,
        at: usize,
    },
    BadTensorCount(u16),
    BadName {
        tensor: usize,
    },
    BadDims {
        tensor: usize,
    },
    DeclaredTooLarge {
        declared: u64,
    },
    /// `len` disagrees with the tensor shapes.
    LengthMismatch {
        declared: u64,
        shapes: u64,
    },
    BadFloatFlag(u8),
    NotFinite {
        index: usize,
    },
    TrailingBytes(usize),
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a Merit model/update file (bad magic)"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "file format version {v} is not supported (this build reads {VERSION})"
            ),
            Self::BadKind(k) => write!(f, "unknown file kind {k}"),
            Self::BadScale(s) => write!(f, "scale 2^-{s} is out of range"),
            Self::Truncated { what, at } => write!(f, "file ends at byte {at}, before {what}"),
            Self::BadTensorCount(n) => write!(f, "{n} tensors (expected 1..={MAX_TENSORS})"),
            Self::BadName { tensor } => write!(
                f,
                "tensor {tensor} has an empty, oversized or non-UTF-8 name"
            ),
            Self::BadDims { tensor } => write!(
                f,
                "tensor {tensor} has 0 or more than {MAX_NDIM} dims, or a zero dim"
            ),
            Self::DeclaredTooLarge { declared } => {
                write!(f, "declares {declared} parameters (limit {MAX_PARAMS})")
            }
            Self::LengthMismatch { declared, shapes } => {
                write!(
                    f,
                    "declares {declared} parameters but its tensors hold {shapes}"
                )
            }
            Self::BadFloatFlag(b) => write!(f, "float-section flag is {b} (expected 0 or 1)"),
            Self::NotFinite { index } => write!(f, "float {index} is NaN or infinite"),
            Self::TrailingBytes(n) => write!(f, "{n} unexpected bytes after the end"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FormatError {}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(FormatError::Truncated {
            what,
            at: self.bytes.len(),
        })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
}

impl ModelFile {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.values.len() * 6);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(match self.kind {
            Kind::Model => 0,
            Kind::Update => 1,
        });
        out.push(self.scale_bits);
        out.extend_from_slice(&(self.tensors.len() as u16).to_le_bytes());
        for t in &self.tensors {
            out.extend_from_slice(&(t.name.len() as u16).to_le_bytes());
            out.extend_from_slice(t.name.as_bytes());
            out.push(t.dims.len() as u8);
            t.dims
                .iter()
                .for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
        }
        out.extend_from_slice(&(self.values.len() as u64).to_le_bytes());
        self.values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        match &self.floats {
            None => out.push(0),
            Some(fs) => {
                out.push(1);
                fs.iter()
                    .for_each(|f| out.extend_from_slice(&f.to_le_bytes()));
            }
        }
        out
    }

    /// Parses strictly: any deviation from the layout above is a named error.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8, "magic")? != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = r.u16("version")?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        let kind = match r.u8("kind")? {
            0 => Kind::Model,
            1 => Kind::Update,
            k => return Err(FormatError::BadKind(k)),
        };
        let scale_bits = r.u8("scale")?;
        if scale_bits > crate::fixed::MAX_SCALE_BITS {
            return Err(FormatError::BadScale(scale_bits));
        }
        let n = r.u16("tensor count")?;
        if n == 0 || usize::from(n) > MAX_TENSORS {
            return Err(FormatError::BadTensorCount(n));
        }
        let mut tensors = Vec::with_capacity(usize::from(n));
        let mut shapes: u64 = 0;
        for tensor in 0..usize::from(n) {
            let name_len = usize::from(r.u16("tensor name length")?);
            if name_len == 0 || name_len > MAX_NAME {
                return Err(FormatError::BadName { tensor });
            }
            let name = core::str::from_utf8(r.take(name_len, "tensor name")?)
                .map_err(|_| FormatError::BadName { tensor })?;
            let ndim = usize::from(r.u8("tensor rank")?);
            if ndim == 0 || ndim > MAX_NDIM {
                return Err(FormatError::BadDims { tensor });
            }
            let mut dims = Vec::with_capacity(ndim);
            let mut count: u64 = 1;
            for _ in 0..ndim {
                let d = r.u32("tensor dims")?;
                if d == 0 {
                    return Err(FormatError::BadDims { tensor });
                }
                count = count.saturating_mul(u64::from(d));
                dims.push(d);
            }
            shapes = shapes.saturating_add(count);
            tensors.push(TensorShape {
                name: name.into(),
                dims,
            });
        }
        let declared = r.u64("parameter count")?;
        if declared > MAX_PARAMS {
            return Err(FormatError::DeclaredTooLarge { declared });
        }
        if declared != shapes {
            return Err(FormatError::LengthMismatch { declared, shapes });
        }
        let len = declared as usize;
        let raw = r.take(2 * len, "fixed-point values")?;
        let values = raw
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        let floats = match r.u8("float-section flag")? {
            0 => None,
            1 => {
                let raw = r.take(4 * len, "float values")?;
                let mut fs = Vec::with_capacity(len);
                for (index, c) in raw.chunks_exact(4).enumerate() {
                    let f = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    if !f.is_finite() {
                        return Err(FormatError::NotFinite { index });
                    }
                    fs.push(f);
                }
                Some(fs)
            }
            b => return Err(FormatError::BadFloatFlag(b)),
        };
        if r.at != bytes.len() {
            return Err(FormatError::TrailingBytes(bytes.len() - r.at));
        }
        Ok(Self {
            kind,
            scale_bits,
            tensors,
            values,
            floats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn sample() -> ModelFile {
        ModelFile {
            kind: Kind::Update,
            scale_bits: 10,
            tensors: vec![
                TensorShape {
                    name: "fc1.weight".into(),
                    dims: vec![2, 3],
                },
                TensorShape {
                    name: "fc1.bias".into(),
                    dims: vec![2],
                },
            ],
            values: vec![1, -2, 3, -4, 5, -6, 7, i16::MIN],
            floats: Some(vec![0.5; 8]),
        }
    }

    #[test]
    fn round_trips_with_and_without_floats() {
        let f = sample();
        assert_eq!(ModelFile::parse(&f.encode()).unwrap(), f);
        let g = ModelFile {
            floats: None,
            kind: Kind::Model,
            ..sample()
        };
        assert_eq!(ModelFile::parse(&g.encode()).unwrap(), g);
    }

    #[test]
    fn every_defect_is_named() {
        let good = sample().encode();
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            ModelFile::parse(&v)
        };
        assert_eq!(with(0, b'X'), Err(FormatError::BadMagic));
        assert_eq!(with(8, 2), Err(FormatError::UnsupportedVersion(2)));
        assert_eq!(with(10, 9), Err(FormatError::BadKind(9)));
        assert_eq!(with(11, 16), Err(FormatError::BadScale(16)));
        assert_eq!(with(12, 0), Err(FormatError::BadTensorCount(0)));
        // Truncation anywhere is Truncated, never a panic.
        for cut in 0..good.len() {
            assert!(
                matches!(
                    ModelFile::parse(&good[..cut]),
                    Err(FormatError::Truncated { .. })
                ),
                "cut {cut}"
            );
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(ModelFile::parse(&long), Err(FormatError::TrailingBytes(1)));
        // The float flag sits right after the values.
        let flag_at = good.len() - 8 * 4 - 1;
        assert_eq!(with(flag_at, 7), Err(FormatError::BadFloatFlag(7)));
        let nan_at = flag_at + 1 + 4 * 3;
        let mut nan = good.clone();
        nan[nan_at..nan_at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(
            ModelFile::parse(&nan),
            Err(FormatError::NotFinite { index: 3 })
        );
    }

    #[test]
    fn declared_length_is_checked_before_allocating() {
        let mut f = sample();
        f.values.push(9);
        f.floats = None;
        // 9 values declared, shapes say 8.
        assert_eq!(
            ModelFile::parse(&f.encode()),
            Err(FormatError::LengthMismatch {
                declared: 9,
                shapes: 8
            })
        );
        // A huge shape with a matching huge count: refused by the limit, not by an allocation.
        let big = ModelFile {
            tensors: vec![TensorShape {
                name: "w".into(),
                dims: vec![u32::MAX, u32::MAX],
            }],
            values: vec![],
            floats: None,
            ..sample()
        };
        let mut bytes = big.encode();
        let len_at = bytes.len() - 1 - 8;
        bytes[len_at..len_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            ModelFile::parse(&bytes),
            Err(FormatError::DeclaredTooLarge { declared: u64::MAX })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = ModelFile::parse(&bytes);
        }

        #[test]
        fn mutated_valid_files_never_panic(i in any::<proptest::sample::Index>(), b in any::<u8>()) {
            let mut v = sample().encode();
            let k = i.index(v.len());
            v[k] = b;
            if let Ok(f) = ModelFile::parse(&v) {
                prop_assert_eq!(ModelFile::parse(&f.encode()).unwrap(), f);
            }
        }
    }
}
