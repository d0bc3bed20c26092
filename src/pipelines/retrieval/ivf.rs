//! IVF-Flat: items grouped into lists by their nearest k-means centroid; a query scores the
//! centroids, scans the `nprobe` best lists with the exact kernel and merges their top-k.
//!
//! File tensors (all three or none):
//! - `ivf.centroids` f32 `[nlist, D]`;
//! - `ivf.list_offsets` i64 `[nlist + 1]`: list `l` holds `list_items[offsets[l]..offsets[l+1]]`
//!   (starts at 0, non-decreasing, ends at N);
//! - `ivf.list_items` i64 `[N]`: item rows grouped by list, ascending within a list, each row
//!   exactly once.
//!
//! In memory each non-empty list is its own [`PackedItems`] (the vectors copied in list order),
//! so a probe is one contiguous scan. Rows ascend within a list, so the kernel's "lower
//! position wins ties" is "lower row wins ties", and the merge keeps that order across lists.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::kernels::topk::{ItemElement, PackedItems, TopK};
use crate::kernels::KernelTable;
use crate::weights::{Element, WeightFile};

pub(crate) const CENTROIDS: &str = "ivf.centroids";
pub(crate) const OFFSETS: &str = "ivf.list_offsets";
pub(crate) const ITEMS: &str = "ivf.list_items";
const ALL: [&str; 3] = [CENTROIDS, OFFSETS, ITEMS];

/// Sizes of an index's IVF lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvfInfo {
    /// Number of lists.
    pub nlist: usize,
    /// Items in the smallest list.
    pub min_list: usize,
    /// Items in the largest list.
    pub max_list: usize,
}

/// The loaded IVF structure.
#[derive(Debug)]
pub(crate) struct Ivf {
    centroids: PackedItems,
    /// One packed matrix per list (`None` for an empty list).
    lists: Vec<Option<PackedItems>>,
    /// `members[offsets[l]..offsets[l+1]]`: rows of list `l`.
    members: Vec<u32>,
    offsets: Vec<usize>,
    /// List and position within it, per row.
    list_of: Vec<u32>,
    pos_of: Vec<u32>,
}

/// Per-thread scratch for IVF search.
#[derive(Clone, Debug, Default)]
pub(crate) struct IvfWorkspace {
    coarse: TopK,
    list: TopK,
    excluded: Vec<u32>,
    /// (score, row) candidates from every probed list.
    merged: Vec<(f32, u32)>,
}

impl Ivf {
    /// Loads the `ivf.*` tensors if present: `None` when there are none, an error when only some
    /// are there or any is malformed. `vectors` is the row-major `n × d` item matrix.
    pub(crate) fn load<T: ItemElement + Element>(
        file: &WeightFile,
        vectors: &[T],
        n: usize,
        d: usize,
        kernels: &'static KernelTable,
    ) -> Result<Option<Ivf>> {
        if let Some(t) = file
            .tensors()
            .find(|t| t.name().starts_with("ivf.") && !ALL.contains(&t.name()))
        {
            return Err(Error::UnexpectedTensor {
                arch: "item_index",
                tensor: t.name().to_string(),
            });
        }
        let present: Vec<&str> = ALL.into_iter().filter(|t| file.contains(t)).collect();
        if present.is_empty() {
            return Ok(None);
        }
        if let Some(missing) = ALL.into_iter().find(|t| !file.contains(t)) {
            return Err(Error::MissingTensor {
                arch: "item_index",
                tensor: missing.to_string(),
            });
        }
        let c = file.tensor(CENTROIDS)?;
        let nlist = c.shape().first().copied().unwrap_or(0);
        if c.shape().len() != 2 || c.shape()[1] != d || nlist == 0 {
            return Err(Error::WrongShape {
                tensor: CENTROIDS.into(),
                expected: format!("[nlist >= 1, {d}]"),
                actual: c.shape().to_vec(),
            });
        }
        let centroids = PackedItems::new(&c.as_f32()?, nlist, d, kernels)?;
        let offsets = read_offsets(file, nlist, n)?;
        let members = read_members(file, &offsets, n)?;
        let mut list_of = vec![0u32; n];
        let mut pos_of = vec![0u32; n];
        let mut lists = Vec::with_capacity(nlist);
        let mut buf: Vec<T> = Vec::new();
        for l in 0..nlist {
            let rows = &members[offsets[l]..offsets[l + 1]];
            buf.clear();
            for (p, &r) in rows.iter().enumerate() {
                list_of[r as usize] = l as u32;
                pos_of[r as usize] = p as u32;
                buf.extend_from_slice(&vectors[r as usize * d..(r as usize + 1) * d]);
            }
            lists.push(if rows.is_empty() {
                None
            } else {
                Some(PackedItems::new(&buf, rows.len(), d, kernels)?)
            });
        }
        Ok(Some(Ivf {
            centroids,
            lists,
            members,
            offsets,
            list_of,
            pos_of,
        }))
    }

    pub(crate) fn info(&self) -> IvfInfo {
        let sizes = self.offsets.windows(2).map(|w| w[1] - w[0]);
        IvfInfo {
            nlist: self.lists.len(),
            min_list: sizes.clone().min().unwrap_or(0),
            max_list: sizes.max().unwrap_or(0),
        }
    }

    /// Top `k` over the `nprobe` lists whose centroids score best, skipping the sorted rows in
    /// `exclude`, as (score, row) best first in `ws.merged`. Fewer than k when the probed lists
    /// hold fewer items.
    pub(crate) fn search(
        &self,
        query: &[f32],
        k: usize,
        nprobe: usize,
        exclude: &[u32],
        ws: &mut IvfWorkspace,
    ) -> Result<()> {
        let nprobe = nprobe.min(self.lists.len());
        if nprobe == 0 {
            return Err(Error::InvalidArgument {
                arg: "nprobe",
                reason: "must be at least 1".into(),
            });
        }
        self.centroids.search(query, nprobe, &mut ws.coarse)?;
        ws.merged.clear();
        for &l in ws.coarse.indices() {
            let l = l as usize;
            let Some(items) = &self.lists[l] else {
                continue;
            };
            ws.excluded.clear();
            ws.excluded.extend(
                exclude
                    .iter()
                    .filter(|&&r| {
                        (r as usize) < self.list_of.len() && self.list_of[r as usize] == l as u32
                    })
                    .map(|&r| self.pos_of[r as usize]),
            );
            items.search_excluding(query, k.min(items.n()), &ws.excluded, &mut ws.list)?;
            let rows = &self.members[self.offsets[l]..];
            ws.merged
                .extend(ws.list.iter().map(|(p, s)| (s, rows[p as usize])));
        }
        ws.merged
            .sort_unstable_by(|a, b| rank(a.0, b.0).then(a.1.cmp(&b.1)));
        ws.merged.truncate(k);
        Ok(())
    }

    pub(crate) fn merged(ws: &IvfWorkspace) -> &[(f32, u32)] {
        &ws.merged
    }
}

/// `Less` when score `a` ranks before `b`: larger first, NaN last, `-0.0 == +0.0`.
fn rank(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

fn bad(tensor: &str, reason: String) -> Error {
    Error::BadTensorValue {
        tensor: tensor.into(),
        reason,
    }
}

fn read_offsets(file: &WeightFile, nlist: usize, n: usize) -> Result<Vec<usize>> {
    let t = file.tensor(OFFSETS)?;
    if t.shape() != [nlist + 1] {
        return Err(Error::WrongShape {
            tensor: OFFSETS.into(),
            expected: format!("[{}] (nlist + 1)", nlist + 1),
            actual: t.shape().to_vec(),
        });
    }
    let raw = t.as_i64()?;
    let mut out = Vec::with_capacity(raw.len());
    let mut prev = 0usize;
    for (l, &o) in raw.iter().enumerate() {
        let ok = usize::try_from(o).ok().filter(|&o| o >= prev && o <= n);
        let Some(o) = ok else {
            return Err(bad(
                OFFSETS,
                format!("entry {l} = {o} must be in {prev}..={n} (non-decreasing)"),
            ));
        };
        if l == 0 && o != 0 {
            return Err(bad(OFFSETS, format!("must start at 0, starts at {o}")));
        }
        out.push(o);
        prev = o;
    }
    if prev != n {
        return Err(bad(
            OFFSETS,
            format!("must end at {n} (items), ends at {prev}"),
        ));
    }
    Ok(out)
}

fn read_members(file: &WeightFile, offsets: &[usize], n: usize) -> Result<Vec<u32>> {
    let t = file.tensor(ITEMS)?;
    if t.shape() != [n] {
        return Err(Error::WrongShape {
            tensor: ITEMS.into(),
            expected: format!("[{n}] (one entry per item)"),
            actual: t.shape().to_vec(),
        });
    }
    let raw = t.as_i64()?;
    let mut seen = vec![false; n];
    let mut out = Vec::with_capacity(n);
    for l in 0..offsets.len() - 1 {
        let mut prev: Option<usize> = None;
        for i in offsets[l]..offsets[l + 1] {
            let r = raw[i];
            let row = usize::try_from(r).ok().filter(|&r| r < n);
            let Some(row) = row else {
                return Err(bad(
                    ITEMS,
                    format!("entry {i} = {r} is not a row in 0..{n}"),
                ));
            };
            if seen[row] {
                return Err(bad(ITEMS, format!("row {row} appears twice")));
            }
            if prev.is_some_and(|p| p > row) {
                return Err(bad(
                    ITEMS,
                    format!("list {l} is not in ascending row order"),
                ));
            }
            seen[row] = true;
            prev = Some(row);
            out.push(row as u32);
        }
    }
    Ok(out)
}
