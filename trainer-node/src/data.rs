//! Local data: the plain CSV a trainer trains on, and the owner's split of a labelled data
//! set into per-trainer files (IID or Dirichlet non-IID) plus validation and test files.
//!
//! # The CSV format
//!
//! One example per line, **no header**: `inputs` numeric feature columns (anything Rust's
//! `f32` parser accepts that is finite: `3`, `0.25`, `1e-3`), then one integer label column
//! in `0..classes`. Fields are separated by commas; spaces around a field are ignored;
//! blank lines are skipped. A file ending in `.gz` is gunzipped first. Everything else (a
//! header row, a missing or extra column, a non-numeric or non-finite value, a fractional
//! or out-of-range label, an empty file) is refused with a [`DataError`] that names the
//! file, the 1-based line and, where it applies, the 1-based column. The scikit-learn copy
//! of the UCI digits set (`digits.csv.gz`, 64 features with values 0..=16, 10 classes) is
//! in exactly this format.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file holds no examples")]
    Empty { path: PathBuf },
    #[error("{path}, line {line}: {found} columns, expected {expected} ({inputs} features and a label; the format has no header)")]
    Columns {
        path: PathBuf,
        line: usize,
        found: usize,
        expected: usize,
        inputs: usize,
    },
    #[error("{path}, line {line}, column {column}: {value:?} is not a number")]
    NotNumeric {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
    },
    #[error("{path}, line {line}, column {column}: {value:?} is not finite")]
    NotFinite {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
    },
    #[error(
        "{path}, line {line}, column {column}: label {value:?} is not an integer in 0..{classes}"
    )]
    BadLabel {
        path: PathBuf,
        line: usize,
        column: usize,
        value: String,
        classes: usize,
    },
    #[error("bad split: {0}")]
    BadSplit(String),
    #[error("{what} {value} is out of range: it must lie in {min}..={max}")]
    OutOfRange {
        what: &'static str,
        value: usize,
        min: usize,
        max: usize,
    },
}

/// Most label classes a dataset may declare: splits walk every class, so an absurd count
/// would spin for hours over empty classes.
pub const MAX_CLASSES: usize = 1 << 16;
/// Most feature columns a row may have.
pub const MAX_INPUTS: usize = 1 << 20;
/// Most trainers a split may deal rows to.
pub const MAX_SPLIT_TRAINERS: usize = 1 << 16;

/// `value` within `min..=max`, or the error that names `what`.
fn in_range(what: &'static str, value: usize, min: usize, max: usize) -> Result<(), DataError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(DataError::OutOfRange {
            what,
            value,
            min,
            max,
        })
    }
}

/// Labelled examples in memory: `features` is row-major, `inputs` values per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub inputs: usize,
    pub classes: usize,
    pub features: Vec<f32>,
    pub labels: Vec<u32>,
}

impl Dataset {
    pub fn new(inputs: usize, classes: usize) -> Self {
        Self {
            inputs,
            classes,
            features: Vec::new(),
            labels: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.inputs..(i + 1) * self.inputs]
    }

    pub fn push(&mut self, row: &[f32], label: u32) {
        assert_eq!(row.len(), self.inputs, "row width");
        self.features.extend_from_slice(row);
        self.labels.push(label);
    }

    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        let mut out = Self::new(self.inputs, self.classes);
        for &i in idx {
            out.push(self.row(i), self.labels[i]);
        }
        out
    }

    /// Examples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes];
        self.labels.iter().for_each(|&l| c[l as usize] += 1);
        c
    }

    /// Divides every feature by `by` (e.g. the digits' maximum 16, to get values in 0..=1).
    pub fn scale(&mut self, by: f32) {
        self.features.iter_mut().for_each(|x| *x /= by);
    }

    /// Parses the CSV format (module docs) from `reader`; `path` only names errors.
    pub fn parse(
        reader: impl Read,
        path: &Path,
        inputs: usize,
        classes: usize,
    ) -> Result<Self, DataError> {
        in_range("inputs", inputs, 1, MAX_INPUTS)?;
        in_range("classes", classes, 2, MAX_CLASSES)?;
        let mut out = Self::new(inputs, classes);
        let mut row = Vec::with_capacity(inputs);
        let expected = inputs + 1;
        for (n, line) in BufReader::new(reader).lines().enumerate() {
            let line = line.map_err(|source| DataError::Io {
                path: path.into(),
                source,
            })?;
            let line_no = n + 1;
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != expected {
                return Err(DataError::Columns {
                    path: path.into(),
                    line: line_no,
                    found: fields.len(),
                    expected,
                    inputs,
                });
            }
            row.clear();
            for (c, f) in fields[..inputs].iter().enumerate() {
                let x: f32 = f.parse().map_err(|_| DataError::NotNumeric {
                    path: path.into(),
                    line: line_no,
                    column: c + 1,
                    value: (*f).into(),
                })?;
                if !x.is_finite() {
                    return Err(DataError::NotFinite {
                        path: path.into(),
                        line: line_no,
                        column: c + 1,
                        value: (*f).into(),
                    });
                }
                row.push(x);
            }
            let raw = fields[inputs];
            let label = parse_label(raw)
                .filter(|&l| (l as usize) < classes)
                .ok_or_else(|| DataError::BadLabel {
                    path: path.into(),
                    line: line_no,
                    column: expected,
                    value: raw.into(),
                    classes,
                })?;
            out.push(&row, label);
        }
        if out.is_empty() {
            return Err(DataError::Empty { path: path.into() });
        }
        Ok(out)
    }

    /// Writes the CSV format (no header; floats in Rust's shortest round-trip form).
    pub fn write_csv(&self, path: &Path) -> Result<(), DataError> {
        let io = |source| DataError::Io {
            path: path.into(),
            source,
        };
        let mut text = String::with_capacity(self.len() * (self.inputs * 4 + 4));
        for i in 0..self.len() {
            for x in self.row(i) {
                text.push_str(&x.to_string());
                text.push(',');
            }
            text.push_str(&self.labels[i].to_string());
            text.push('\n');
        }
        let mut f = std::fs::File::create(path).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

/// A label: an integer, also accepted as a float with no fractional part (`3.0`).
fn parse_label(s: &str) -> Option<u32> {
    if let Ok(l) = s.parse::<u32>() {
        return Some(l);
    }
    let x: f64 = s.parse().ok()?;
    (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX)).then_some(x as u32)
}

/// Loads a CSV file (module docs), gunzipping it first if its name ends in `.gz`.
pub fn load_csv(path: &Path, inputs: usize, classes: usize) -> Result<Dataset, DataError> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.into(),
        source,
    })?;
    if path.extension().is_some_and(|e| e == "gz") {
        Dataset::parse(flate2::read::GzDecoder::new(file), path, inputs, classes)
    } else {
        Dataset::parse(file, path, inputs, classes)
    }
}

/// Seed of the fixed stratified train/test and train/validation splits: the owner's test
/// and validation sets stay the same whatever `--seed` partitions the trainers.
pub const HOLDOUT_SEED: u64 = 0x4d45_5249_545f_5454; // "MERIT_TT"
/// Fraction of every class held out as the test set.
pub const TEST_FRACTION: f64 = 0.2;
/// Fraction of every class of the training part carved out as the owner's validation set.
pub const VALIDATION_FRACTION: f64 = 0.1;

/// Stratified split of `idx` (rows of `d`): per class, a seeded shuffle, then the first
/// `round(fraction · n_class)` rows go to the second part. Both parts keep row order.
pub fn stratified_split(
    d: &Dataset,
    idx: &[usize],
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut keep = Vec::new();
    let mut held = Vec::new();
    for c in 0..d.classes as u32 {
        let mut rows: Vec<usize> = idx.iter().copied().filter(|&i| d.labels[i] == c).collect();
        rows.shuffle(&mut rng);
        let k = (fraction * rows.len() as f64).round() as usize;
        held.extend_from_slice(&rows[..k]);
        keep.extend_from_slice(&rows[k..]);
    }
    keep.sort_unstable();
    held.sort_unstable();
    (keep, held)
}

/// How trainers' shares are drawn from the training pool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Partition {
    /// Shuffled and dealt round-robin: sizes differ by at most one, classes mixed alike.
    Iid,
    /// Per class, proportions drawn from Dirichlet(α, …, α) over the trainers: small α
    /// gives each trainer few classes, large α approaches IID.
    Dirichlet { alpha: f64 },
    /// Shuffled, then cut so trainer `t` (from 0) holds a share proportional to
    /// `(t + 1)^−exponent` (classes mixed alike): sizes spread about `N^exponent` times,
    /// for fairness experiments (a score should grow with what a trainer's data is worth).
    PowerLaw { exponent: f64 },
}

/// Most Dirichlet draws tried before giving up on giving every trainer `min_rows`.
pub const DIRICHLET_TRIES: usize = 1_000;

/// Partitions `idx` (rows of `d`) among `trainers`, seeded. With Dirichlet, whole draws are
/// repeated until every trainer has at least `min_rows` rows (as Flower's
/// `DirichletPartitioner` does), at most [`DIRICHLET_TRIES`] times.
pub fn partition(
    d: &Dataset,
    idx: &[usize],
    trainers: usize,
    how: Partition,
    min_rows: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>, DataError> {
    in_range("trainers", trainers, 1, MAX_SPLIT_TRAINERS)?;
    // An empty shard is a trainer with nothing to train on.
    in_range("min_rows", min_rows, 1, idx.len().max(1))?;
    if trainers
        .checked_mul(min_rows)
        .is_none_or(|need| idx.len() < need)
    {
        return Err(DataError::BadSplit(format!(
            "{} training rows cannot give {trainers} trainers {min_rows} rows each",
            idx.len()
        )));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    match how {
        Partition::Iid => {
            let mut rows = idx.to_vec();
            rows.shuffle(&mut rng);
            let mut parts = vec![Vec::new(); trainers];
            for (k, r) in rows.into_iter().enumerate() {
                parts[k % trainers].push(r);
            }
            parts.iter_mut().for_each(|p| p.sort_unstable());
            Ok(parts)
        }
        Partition::Dirichlet { alpha } => {
            if !(alpha.is_finite() && alpha > 0.0) {
                return Err(DataError::BadSplit(format!(
                    "alpha {alpha} is not a positive number"
                )));
            }
            let gamma = Gamma::new(alpha, 1.0)
                .map_err(|e| DataError::BadSplit(format!("Gamma({alpha}, 1): {e}")))?;
            let by_class: Vec<Vec<usize>> = (0..d.classes as u32)
                .map(|c| idx.iter().copied().filter(|&i| d.labels[i] == c).collect())
                .collect();
            for _ in 0..DIRICHLET_TRIES {
                let mut parts = vec![Vec::new(); trainers];
                for rows in &by_class {
                    let mut rows = rows.clone();
                    rows.shuffle(&mut rng);
                    let p = dirichlet(&gamma, trainers, &mut rng);
                    let mut cum = 0.0;
                    let mut start = 0;
                    for (t, part) in parts.iter_mut().enumerate() {
                        cum += p[t];
                        let end = if t + 1 == trainers {
                            rows.len()
                        } else {
                            ((cum * rows.len() as f64).round() as usize).clamp(start, rows.len())
                        };
                        part.extend_from_slice(&rows[start..end]);
                        start = end;
                    }
                }
                if parts.iter().all(|p| p.len() >= min_rows) {
                    parts.iter_mut().for_each(|p| p.sort_unstable());
                    return Ok(parts);
                }
            }
            Err(DataError::BadSplit(format!(
                "no Dirichlet({alpha}) draw in {DIRICHLET_TRIES} gave each of {trainers} trainers {min_rows} rows; raise alpha or lower the trainer count"
            )))
        }
        Partition::PowerLaw { exponent } => {
            if !(exponent.is_finite() && exponent >= 0.0) {
                return Err(DataError::BadSplit(format!(
                    "power-law exponent {exponent} is not a non-negative number"
                )));
            }
            let mut rows = idx.to_vec();
            rows.shuffle(&mut rng);
            let weights: Vec<f64> = (0..trainers)
                .map(|t| ((t + 1) as f64).powf(-exponent))
                .collect();
            let total: f64 = weights.iter().sum();
            // Everyone first gets min_rows; the rest is shared by weight.
            let spare = rows.len() - trainers * min_rows;
            let mut sizes: Vec<usize> = weights
                .iter()
                .map(|w| min_rows + (w / total * spare as f64).floor() as usize)
                .collect();
            sizes[0] += rows.len() - sizes.iter().sum::<usize>();
            let mut parts = Vec::with_capacity(trainers);
            let mut start = 0;
            for size in sizes {
                let mut part = rows[start..start + size].to_vec();
                part.sort_unstable();
                parts.push(part);
                start += size;
            }
            Ok(parts)
        }
    }
}

/// One draw from the symmetric Dirichlet distribution: independent Gamma(α, 1) draws,
/// normalised. A draw whose every component underflows to 0 (tiny α) is redrawn.
fn dirichlet(gamma: &Gamma<f64>, n: usize, rng: &mut impl Rng) -> Vec<f64> {
    loop {
        let g: Vec<f64> = (0..n).map(|_| gamma.sample(rng)).collect();
        let sum: f64 = g.iter().sum();
        if sum > 0.0 && sum.is_finite() {
            return g.into_iter().map(|x| x / sum).collect();
        }
    }
}

/// What `merit data split` does, as parameters.
#[derive(Debug, Clone)]
pub struct SplitConfig {
    pub trainers: usize,
    /// `None`: IID; `Some(α)`: Dirichlet(α) by label.
    pub alpha: Option<f64>,
    pub seed: u64,
    /// Each trainer gets at least this many rows.
    pub min_rows: usize,
}

/// What a split wrote: file paths and class counts, also saved as `split.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SplitReport {
    pub input: PathBuf,
    pub rows: usize,
    /// Features were divided by this (the input's largest absolute feature value).
    pub feature_scale: f32,
    pub seed: u64,
    pub alpha: Option<f64>,
    pub test: FilePart,
    pub validation: FilePart,
    pub trainers: Vec<FilePart>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FilePart {
    pub path: PathBuf,
    pub rows: usize,
    pub class_counts: Vec<usize>,
}

/// Splits `d` into `out/test.csv` (stratified 20 %, fixed seed), `out/validation.csv`
/// (stratified 10 % of the rest, fixed seed), and `out/trainer-{i}.csv` for each trainer
/// (from the remaining rows, IID or Dirichlet, `cfg.seed`), after dividing every feature by
/// the data's largest absolute value so they lie in [-1, 1] (digits: 0..=16 → 0..=1). Also
/// writes `out/split.json` (the report).
pub fn split(
    d: &Dataset,
    input: &Path,
    cfg: &SplitConfig,
    out: &Path,
) -> Result<SplitReport, DataError> {
    let io = |source| DataError::Io {
        path: out.into(),
        source,
    };
    let max = d.features.iter().fold(0f32, |m, x| m.max(x.abs()));
    let feature_scale = if max > 0.0 { max } else { 1.0 };
    let mut d = d.clone();
    d.scale(feature_scale);
    let all: Vec<usize> = (0..d.len()).collect();
    let (train, test) = stratified_split(&d, &all, TEST_FRACTION, HOLDOUT_SEED);
    let (pool, validation) =
        stratified_split(&d, &train, VALIDATION_FRACTION, HOLDOUT_SEED ^ 0x0056_414c);
    let how = match cfg.alpha {
        None => Partition::Iid,
        Some(alpha) => Partition::Dirichlet { alpha },
    };
    // Every check that can fail runs before anything is written: a refused split leaves
    // no output directory behind.
    let parts = partition(&d, &pool, cfg.trainers, how, cfg.min_rows, cfg.seed)?;
    std::fs::create_dir_all(out).map_err(io)?;
    let write = |name: String, idx: &[usize]| -> Result<FilePart, DataError> {
        let part = d.select(idx);
        let path = out.join(name);
        part.write_csv(&path)?;
        Ok(FilePart {
            path,
            rows: part.len(),
            class_counts: part.class_counts(),
        })
    };
    let report = SplitReport {
        input: input.into(),
        rows: d.len(),
        feature_scale,
        seed: cfg.seed,
        alpha: cfg.alpha,
        test: write("test.csv".into(), &test)?,
        validation: write("validation.csv".into(), &validation)?,
        trainers: parts
            .iter()
            .enumerate()
            .map(|(i, p)| write(format!("trainer-{i}.csv"), p))
            .collect::<Result<_, _>>()?,
    };
    let json = serde_json::to_string_pretty(&report).expect("the report serialises");
    let manifest = out.join("split.json");
    std::fs::write(&manifest, json).map_err(|source| DataError::Io {
        path: manifest,
        source,
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `rows` rows of 3 features; label = row % classes.
    fn synthetic(rows: usize, classes: usize) -> Dataset {
        let mut d = Dataset::new(3, classes);
        for i in 0..rows {
            let l = (i % classes) as u32;
            d.push(&[i as f32, l as f32 * 2.0, 16.0 - (i % 17) as f32], l);
        }
        d
    }

    #[test]
    fn a_good_file_loads_and_round_trips_including_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "a.csv",
            "0,1.5,2,1\n\n 3 , 1e-1,5 ,0\n4,5,6,2.0\n",
        );
        let d = load_csv(&p, 3, 3).unwrap();
        assert_eq!(d.labels, [1, 0, 2]);
        assert_eq!(d.row(1), [3.0, 0.1, 5.0]);
        let again = dir.path().join("b.csv");
        d.write_csv(&again).unwrap();
        assert_eq!(load_csv(&again, 3, 3).unwrap(), d);
        let gz = dir.path().join("c.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(&std::fs::read(&p).unwrap()).unwrap();
        enc.finish().unwrap();
        assert_eq!(load_csv(&gz, 3, 3).unwrap(), d);
    }

    #[test]
    fn bad_files_are_refused_with_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, &str)] = &[
            ("0,1,2,1\n0,1,1\n", "line 2: 3 columns, expected 4"),
            ("0,1,2,1,7\n", "line 1: 5 columns, expected 4"),
            (
                "0,1,2,1\n0,x,2,1\n",
                "line 2, column 2: \"x\" is not a number",
            ),
            (
                "a,b,c,label\n0,1,2,1\n",
                "line 1, column 1: \"a\" is not a number",
            ),
            ("0,NaN,2,1\n", "line 1, column 2: \"NaN\" is not finite"),
            ("0,inf,2,1\n", "line 1, column 2: \"inf\" is not finite"),
            (
                "0,1,2,3\n",
                "line 1, column 4: label \"3\" is not an integer in 0..3",
            ),
            ("0,1,2,-1\n", "line 1, column 4: label \"-1\""),
            ("0,1,2,1.5\n", "line 1, column 4: label \"1.5\""),
            ("", "holds no examples"),
            ("\n\n", "holds no examples"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let p = write(dir.path(), &format!("bad{i}.csv"), text);
            let e = load_csv(&p, 3, 3).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.contains(&format!("bad{i}.csv")), "{e}");
        }
        let e = load_csv(&dir.path().join("missing.csv"), 3, 3).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }), "{e}");
    }

    #[test]
    fn holdout_split_is_stratified_and_fixed() {
        let d = synthetic(500, 5);
        let all: Vec<usize> = (0..d.len()).collect();
        let (train, test) = stratified_split(&d, &all, 0.2, HOLDOUT_SEED);
        assert_eq!(test.len(), 100);
        assert_eq!(d.select(&test).class_counts(), vec![20; 5]);
        let mut both: Vec<usize> = train.iter().chain(&test).copied().collect();
        both.sort_unstable();
        assert_eq!(both, all);
        assert_eq!(stratified_split(&d, &all, 0.2, HOLDOUT_SEED).1, test);
        assert_ne!(stratified_split(&d, &all, 0.2, 1).1, test);
    }

    #[test]
    fn iid_partition_is_balanced_disjoint_and_seeded() {
        let d = synthetic(103, 4);
        let all: Vec<usize> = (0..d.len()).collect();
        let parts = partition(&d, &all, 4, Partition::Iid, 1, 7).unwrap();
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        assert_eq!(sizes, [26, 26, 26, 25]);
        let mut every: Vec<usize> = parts.concat();
        every.sort_unstable();
        assert_eq!(every, all);
        assert_eq!(partition(&d, &all, 4, Partition::Iid, 1, 7).unwrap(), parts);
        assert_ne!(partition(&d, &all, 4, Partition::Iid, 1, 8).unwrap(), parts);
    }

    #[test]
    fn dirichlet_partition_skews_labels_more_as_alpha_shrinks() {
        let d = synthetic(2_000, 10);
        let all: Vec<usize> = (0..d.len()).collect();
        // Share of each trainer's rows in its largest class, averaged over trainers.
        let skew = |alpha: f64| {
            let parts = partition(&d, &all, 5, Partition::Dirichlet { alpha }, 10, 3).unwrap();
            let mut every: Vec<usize> = parts.concat();
            every.sort_unstable();
            assert_eq!(every, all, "alpha {alpha}: a partition of every row");
            assert!(parts.iter().all(|p| p.len() >= 10));
            parts
                .iter()
                .map(|p| {
                    let c = d.select(p).class_counts();
                    *c.iter().max().unwrap() as f64 / p.len() as f64
                })
                .sum::<f64>()
                / 5.0
        };
        let (low, high) = (skew(0.1), skew(1_000.0));
        assert!(low > 0.4, "alpha 0.1: top-class share {low}");
        assert!(high < 0.15, "alpha 1000: top-class share {high}");
        let a = partition(&d, &all, 5, Partition::Dirichlet { alpha: 0.5 }, 10, 3).unwrap();
        let b = partition(&d, &all, 5, Partition::Dirichlet { alpha: 0.5 }, 10, 3).unwrap();
        assert_eq!(a, b, "seeded");
    }

    #[test]
    fn power_law_sizes_spread_and_cover_every_row() {
        let d = synthetic(1000, 4);
        let all: Vec<usize> = (0..d.len()).collect();
        let parts = partition(&d, &all, 10, Partition::PowerLaw { exponent: 1.0 }, 10, 2).unwrap();
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert!(sizes[0] >= 5 * sizes[9], "{sizes:?}");
        assert!(sizes[9] >= 10);
        let mut seen: Vec<usize> = parts.concat();
        seen.sort_unstable();
        assert_eq!(seen, all, "a partition of the rows");
        assert!(partition(&d, &all, 3, Partition::PowerLaw { exponent: -1.0 }, 1, 1).is_err());
    }

    #[test]
    fn impossible_partitions_are_refused() {
        let d = synthetic(20, 2);
        let all: Vec<usize> = (0..d.len()).collect();
        assert!(partition(&d, &all, 0, Partition::Iid, 1, 1).is_err());
        assert!(partition(&d, &all, 3, Partition::Iid, 10, 1).is_err());
        assert!(partition(&d, &all, 2, Partition::Dirichlet { alpha: 0.0 }, 1, 1).is_err());
        // Four trainers with 5 rows each out of two classes of 10 needs every class split
        // exactly in half; at alpha 0.001 a class lands (nearly) whole with one trainer.
        let e = partition(&d, &all, 4, Partition::Dirichlet { alpha: 0.001 }, 5, 1);
        assert!(matches!(e, Err(DataError::BadSplit(_))), "{e:?}");
    }

    #[test]
    fn absurd_split_settings_are_refused_by_name_without_panics_or_hangs() {
        let d = synthetic(40, 2);
        let all: Vec<usize> = (0..d.len()).collect();
        for (trainers, min_rows, what) in [
            (usize::MAX, 1, "trainers"),
            (2, usize::MAX, "min_rows"),
            (2000, 0, "min_rows"),
            (MAX_SPLIT_TRAINERS + 1, 1, "trainers"),
        ] {
            let e = partition(&d, &all, trainers, Partition::Iid, min_rows, 1).unwrap_err();
            assert!(
                matches!(e, DataError::OutOfRange { what: w, .. } if w == what),
                "{trainers} × {min_rows}: {e}"
            );
        }
        // Multiplying the two would overflow: refused, not a panic.
        let e = partition(&d, &all, 1 << 40, Partition::Iid, 1 << 40, 1).unwrap_err();
        assert!(matches!(e, DataError::OutOfRange { .. }), "{e}");
        let e = Dataset::parse(&b"1,0\n"[..], Path::new("x.csv"), 1, 100_000_000_000).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::OutOfRange {
                    what: "classes",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("classes 100000000000"), "{e}");
    }

    #[test]
    fn mnist_rows_split_with_pixels_divided_by_255() {
        // 28 × 28 pixels 0..=255 then the label, as `merit data fetch-mnist` writes them.
        let mut csv = String::new();
        for r in 0..300usize {
            let pixels: Vec<String> = (0..784).map(|p| ((r + p * 5) % 256).to_string()).collect();
            csv.push_str(&format!("{},{}\n", pixels.join(","), r % 10));
        }
        let dir = tempfile::tempdir().unwrap();
        let input = write(dir.path(), "mnist.csv", &csv);
        let d = load_csv(&input, 784, 10).unwrap();
        let cfg = SplitConfig {
            trainers: 4,
            alpha: Some(0.5),
            seed: 1,
            min_rows: 10,
        };
        let out = dir.path().join("shards");
        let r = split(&d, &input, &cfg, &out).unwrap();
        assert_eq!(r.feature_scale, 255.0);
        assert_eq!((r.test.rows, &r.test.class_counts[..]), (60, &[6; 10][..]));
        let mut rows = 0;
        for part in [&r.test, &r.validation].into_iter().chain(&r.trainers) {
            let back = load_csv(&part.path, 784, 10).unwrap();
            rows += back.len();
            // Each written row is its input row divided by 255, pixel for pixel.
            for i in 0..back.len() {
                let x = back.row(i);
                let source = (0..d.len())
                    .find(|&j| d.labels[j] == back.labels[i] && d.row(j)[0] / 255.0 == x[0])
                    .expect("a source row");
                let want: Vec<f32> = d.row(source).iter().map(|p| p / 255.0).collect();
                assert_eq!(x, &want[..]);
            }
        }
        assert_eq!(rows, 300);
        // The 784-column file read as the digits' 64 is refused, naming the count.
        let e = load_csv(&input, 64, 10).unwrap_err().to_string();
        assert!(e.contains("785 columns, expected 65"), "{e}");
    }

    #[test]
    fn a_refused_split_leaves_no_output_directory() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("shards");
        let cfg = SplitConfig {
            trainers: 2000,
            alpha: None,
            seed: 1,
            min_rows: 1,
        };
        let e = split(&synthetic(100, 2), Path::new("in.csv"), &cfg, &out).unwrap_err();
        assert!(matches!(e, DataError::BadSplit(_)), "{e}");
        assert!(!out.exists(), "a failed split left {}", out.display());
    }

    #[test]
    fn split_writes_every_file_and_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let d = synthetic(400, 4);
        let cfg = SplitConfig {
            trainers: 3,
            alpha: Some(1.0),
            seed: 5,
            min_rows: 5,
        };
        let r = split(&d, Path::new("in.csv"), &cfg, dir.path()).unwrap();
        assert_eq!(r.test.rows, 80);
        assert_eq!(r.validation.rows, 32);
        assert_eq!(
            r.trainers.iter().map(|t| t.rows).sum::<usize>(),
            400 - 80 - 32
        );
        assert_eq!(r.feature_scale, 399.0);
        for part in [&r.test, &r.validation].into_iter().chain(&r.trainers) {
            let back = load_csv(&part.path, 3, 4).unwrap();
            assert_eq!(back.len(), part.rows);
            assert!(back.features.iter().all(|x| (0.0..=1.0).contains(x)));
        }
        assert!(dir.path().join("split.json").exists());
        // The holdout files do not depend on the trainers' seed or alpha.
        let other = tempfile::tempdir().unwrap();
        let cfg2 = SplitConfig {
            alpha: None,
            seed: 99,
            ..cfg
        };
        split(&d, Path::new("in.csv"), &cfg2, other.path()).unwrap();
        for f in ["test.csv", "validation.csv"] {
            assert_eq!(
                std::fs::read(dir.path().join(f)).unwrap(),
                std::fs::read(other.path().join(f)).unwrap()
            );
        }
    }
}
