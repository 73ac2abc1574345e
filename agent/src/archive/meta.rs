//! Metadata entries that describe the entry after them: GNU long names and long link names
//! (`L`, `K`) and pax extended headers (`x`). The tar crate runs in raw mode, so they arrive
//! here as entries of their own and each is read into memory only up to a small cap (in
//! non-raw mode the crate would buffer a long name of any declared size).
//!
//! A pax `size` that disagrees with the header's size is refused rather than honoured:
//! parsers disagreeing on where an entry ends is how one archive is made to look different
//! to different tools.

use std::io::Read;

use tar::{Entry, EntryType, Header};

use super::ArchiveError;
use super::extract::corrupt;
use super::names;

/// Cap on a GNU long name or long link name.
const MAX_LONG_NAME: u64 = 64 * 1024;
/// Cap on one pax extended header.
const MAX_PAX: u64 = 1024 * 1024;

/// Metadata entries seen since the last real entry, to apply to the next one.
#[derive(Default)]
pub(super) struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

/// The name and link name an entry really has once its metadata is applied.
pub(super) struct Names {
    pub(super) name: Vec<u8>,
    pub(super) link: Vec<u8>,
}

impl Pending {
    pub(super) fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }

    /// Takes in `entry` if it is a metadata entry, returning whether it was one.
    pub(super) fn absorb<R: Read>(
        &mut self,
        entry: &mut Entry<'_, R>,
    ) -> Result<bool, ArchiveError> {
        match entry.header().entry_type() {
            EntryType::GNULongName => {
                let name = read_meta(entry, MAX_LONG_NAME, &self.long_name)?;
                self.long_name = Some(names::c_string(name));
            }
            EntryType::GNULongLink => {
                let link = read_meta(entry, MAX_LONG_NAME, &self.long_link)?;
                self.long_link = Some(names::c_string(link));
            }
            EntryType::XHeader => self.pax = Some(read_meta(entry, MAX_PAX, &self.pax)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Applies the pending metadata to the real entry with `header` and data size `size`,
    /// with the tar crate's precedence: GNU long names, then pax, then the header itself.
    pub(super) fn resolve(self, header: &Header, size: u64) -> Result<Names, ArchiveError> {
        let pax = parse_pax(self.pax.as_deref())?;
        if pax.size.is_some_and(|pax_size| pax_size != size) {
            return Err(ArchiveError::Corrupt(format!(
                "pax size disagrees with the header size {size}"
            )));
        }
        let name =
            (self.long_name.or(pax.path)).unwrap_or_else(|| header.path_bytes().into_owned());
        let link = (self.long_link.or(pax.linkpath))
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()))
            .unwrap_or_default();
        Ok(Names { name, link })
    }
}

/// Reads a metadata entry's data, refusing a second one of its kind for the same entry.
fn read_meta<R: Read>(
    entry: &mut Entry<'_, R>,
    max: u64,
    slot: &Option<Vec<u8>>,
) -> Result<Vec<u8>, ArchiveError> {
    let size = entry.size();
    if slot.is_some() {
        return Err(ArchiveError::Corrupt(
            "two metadata entries of one kind describe the same entry".into(),
        ));
    }
    if size > max {
        return Err(ArchiveError::Corrupt(format!(
            "metadata entry of {size} bytes exceeds the cap of {max}"
        )));
    }
    let mut data = Vec::new();
    entry.take(size).read_to_end(&mut data).map_err(corrupt)?;
    if data.len() as u64 != size {
        return Err(ArchiveError::Corrupt("metadata entry is truncated".into()));
    }
    Ok(data)
}

/// The pax keys that matter for extraction.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
}

fn parse_pax(data: Option<&[u8]>) -> Result<Pax, ArchiveError> {
    let mut pax = Pax::default();
    for ext in tar::PaxExtensions::new(data.unwrap_or_default()) {
        let ext = ext.map_err(|e| ArchiveError::Corrupt(format!("malformed pax header: {e}")))?;
        match ext.key_bytes() {
            b"path" => pax.path = Some(ext.value_bytes().to_vec()),
            b"linkpath" => pax.linkpath = Some(ext.value_bytes().to_vec()),
            b"size" => {
                let size = (ext.value().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| ArchiveError::Corrupt("malformed pax size".into()))?;
                pax.size = Some(size);
            }
            _ => {}
        }
    }
    Ok(pax)
}
